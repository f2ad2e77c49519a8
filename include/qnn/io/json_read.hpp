// A small JSON reader (RFC 8259) for the files qnn is given: the XRT artefact manifest, and any
// other configuration a user writes by hand. json.hpp is the writer; this is the reader.
//
// Every parsed value remembers where it was found (the source name and a path such as
// `artefacts[1].shape.K`), so a wrong type or a missing key fails with a message that names the
// file and the exact field. Syntax errors name the line and column. Integers are kept exactly
// (int64, not via double); nesting deeper than kMaxDepth is rejected instead of overflowing the
// stack; duplicate keys in an object are an error, not "last one wins".
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn::json {

class Node {
 public:
  enum class Kind : std::uint8_t { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  // "<source>: <path>", e.g. "manifest.json: artefacts[0].shape.M"; the root's path is "(root)".
  std::string where() const { return source_ + ": " + (path_.empty() ? std::string("(root)") : path_); }

  bool is_null() const { return kind_ == Kind::null; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_string() const { return kind_ == Kind::string; }

  bool as_bool() const {
    expect(Kind::boolean);
    return bool_;
  }
  double as_number() const {
    expect(Kind::number);
    return number_;
  }
  // An integer literal (no fraction or exponent) within [lo, hi].
  std::int64_t as_int(std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                      std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    expect(Kind::number);
    check(integral_, where(), ": expected an integer, got ", text_);
    check(int_ >= lo && int_ <= hi, where(), ": ", int_, " is outside [", lo, ", ", hi, "]");
    return int_;
  }
  const std::string& as_string() const {
    expect(Kind::string);
    return text_;
  }
  const std::vector<Node>& items() const {
    expect(Kind::array);
    return items_;
  }

  // Object access. Members keep the order of the file.
  const std::vector<std::pair<std::string, Node>>& members() const {
    expect(Kind::object);
    return members_;
  }
  const Node* find(std::string_view key) const {
    expect(Kind::object);
    for (const auto& [k, v] : members_)
      if (k == key) return &v;
    return nullptr;
  }
  const Node& at(std::string_view key) const {
    const Node* n = find(key);
    check(n != nullptr, where(), ": missing key \"", key, "\"");
    return *n;
  }
  // Fails on a key outside `allowed`: a misspelt optional field must not be silently ignored.
  void check_keys(std::initializer_list<std::string_view> allowed) const {
    for (const auto& [k, v] : members()) {
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || a == k;
      if (!ok) {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(where(), ": unknown key \"", k, "\" (expected one of: ", list, ")");
      }
    }
  }

  static std::string_view kind_name(Kind k) {
    switch (k) {
      case Kind::null: return "null";
      case Kind::boolean: return "a boolean";
      case Kind::number: return "a number";
      case Kind::string: return "a string";
      case Kind::array: return "an array";
      case Kind::object: return "an object";
    }
    return "?";
  }

 private:
  friend class Parser;
  void expect(Kind k) const {
    check(kind_ == k, where(), ": expected ", kind_name(k), ", got ", kind_name(kind_));
  }

  Kind kind_ = Kind::null;
  bool bool_ = false;
  bool integral_ = false;
  double number_ = 0;
  std::int64_t int_ = 0;
  std::string text_;  // string value, or the literal of a number
  std::vector<Node> items_;
  std::vector<std::pair<std::string, Node>> members_;
  std::string source_;
  std::string path_;
};

class Parser {
 public:
  static constexpr int kMaxDepth = 256;

  Parser(std::string_view text, std::string source) : s_(text), source_(std::move(source)) {}

  Node parse_document() {
    skip_ws();
    Node n = parse_value("", 0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected text after the JSON value");
    return n;
  }

 private:
  [[noreturn]] void error(std::string_view what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    fail(source_, ":", line, ":", col, ": ", what);
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eat_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  Node make(Node::Kind k, const std::string& path) const {
    Node n;
    n.kind_ = k;
    n.source_ = source_;
    n.path_ = path;
    return n;
  }

  Node parse_value(const std::string& path, int depth) {
    if (depth > kMaxDepth) error("nesting deeper than 256 levels");
    if (pos_ >= s_.size()) error("unexpected end of input, expected a value");
    const char c = s_[pos_];
    if (c == '{') return parse_object(path, depth);
    if (c == '[') return parse_array(path, depth);
    if (c == '"') {
      Node n = make(Node::Kind::string, path);
      n.text_ = parse_string();
      return n;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(path);
    if (eat_word("true") || eat_word("false")) {
      Node n = make(Node::Kind::boolean, path);
      n.bool_ = c == 't';
      return n;
    }
    if (eat_word("null")) return make(Node::Kind::null, path);
    error(std::string("unexpected character '") + c + "', expected a value");
  }

  Node parse_object(const std::string& path, int depth) {
    Node n = make(Node::Kind::object, path);
    ++pos_;  // '{'
    skip_ws();
    if (eat('}')) return n;
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key in object");
      const std::size_t key_pos = pos_;
      std::string key = parse_string();
      for (const auto& [k, v] : n.members_) {
        if (k != key) continue;
        pos_ = key_pos;
        error("duplicate key \"" + key + "\"");
      }
      skip_ws();
      if (!eat(':')) error("expected ':' after an object key");
      skip_ws();
      const std::string child = path.empty() ? key : path + "." + key;
      Node v = parse_value(child, depth + 1);
      n.members_.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (eat('}')) return n;
      if (!eat(',')) error("expected ',' or '}' in object");
    }
  }

  Node parse_array(const std::string& path, int depth) {
    Node n = make(Node::Kind::array, path);
    ++pos_;  // '['
    skip_ws();
    if (eat(']')) return n;
    while (true) {
      skip_ws();
      n.items_.push_back(parse_value(path + "[" + std::to_string(n.items_.size()) + "]", depth + 1));
      skip_ws();
      if (eat(']')) return n;
      if (!eat(',')) error("expected ',' or ']' in array");
    }
  }

  Node parse_number(const std::string& path) {
    const std::size_t start = pos_;
    eat('-');
    if (eat('0')) {
      // a leading zero stands alone
    } else if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      error("malformed number");
    }
    bool integral = true;
    if (eat('.')) {
      integral = false;
      if (!digits()) error("malformed number: digits expected after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!eat('+')) eat('-');
      if (!digits()) error("malformed number: digits expected in the exponent");
    }
    Node n = make(Node::Kind::number, path);
    n.text_ = std::string(s_.substr(start, pos_ - start));
    n.number_ = std::strtod(n.text_.c_str(), nullptr);
    if (integral) {
      errno = 0;
      const long long v = std::strtoll(n.text_.c_str(), nullptr, 10);
      n.integral_ = errno == 0;  // out-of-range integers stay numbers, but as_int() refuses them
      n.int_ = v;
    }
    return n;
  }
  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20) error("control character in string (escape it)");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': append_utf8(out, code_point()); break;
        default: error(std::string("invalid escape '\\") + e + "'");
      }
    }
  }
  std::uint32_t hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else error("invalid hex digit in \\u escape");
    }
    return v;
  }
  // A \uXXXX escape, joining a UTF-16 surrogate pair into one code point.
  std::uint32_t code_point() {
    const std::uint32_t hi = hex4();
    if (hi >= 0xDC00 && hi <= 0xDFFF) error("unpaired low surrogate in \\u escape");
    if (hi < 0xD800 || hi > 0xDBFF) return hi;
    if (!eat_word("\\u")) error("unpaired high surrogate in \\u escape");
    const std::uint32_t lo = hex4();
    if (lo < 0xDC00 || lo > 0xDFFF) error("invalid low surrogate in \\u escape");
    return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  std::string source_;
  std::size_t pos_ = 0;
};

// Parses one JSON document; `source` names it in error messages (a file name, "manifest", ...).
inline Node parse(std::string_view text, std::string source = "json") {
  return Parser(text, std::move(source)).parse_document();
}

}  // namespace qnn::json
