// A minimal JSON writer for qnn's reports (inspect, profile, the per-layer error report): values
// are built as a tree and printed with two-space indentation. Strings are escaped per RFC 8259;
// non-finite numbers, which JSON cannot hold, are written as null.
#pragma once

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <tuple>
#include <variant>
#include <vector>

namespace qnn::json {

class Value {
 public:
  using Object = std::vector<std::pair<std::string, Value>>;  // keeps insertion order
  using Array = std::vector<Value>;

  Value() : v_(nullptr) {}
  Value(std::nullptr_t) : v_(nullptr) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v_(i) {}
  Value(std::size_t i) : v_(static_cast<std::int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(float d) : v_(static_cast<double>(d)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Array a) : v_(std::make_shared<Array>(std::move(a))) {}
  Value(Object o) : v_(std::make_shared<Object>(std::move(o))) {}

  static Value object() { return Value(Object{}); }
  static Value array() { return Value(Array{}); }

  // Appends to an object (key, value) or an array (value).
  // The element is constructed in place: moving a whole variant here makes GCC 12 report a false
  // -Wmaybe-uninitialized on the string alternative.
  template <class T>
  // key is moved (through forward_as_tuple), which clang-tidy 14 does not see.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  Value& set(std::string key, T&& v) {
    std::get<std::shared_ptr<Object>>(v_)->emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)),
                                                        std::forward_as_tuple(std::forward<T>(v)));
    return *this;
  }
  template <class T>
  Value& push(T&& v) {
    std::get<std::shared_ptr<Array>>(v_)->emplace_back(std::forward<T>(v));
    return *this;
  }

  void write(std::ostream& os, int indent = 0) const {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    const std::string pad2(static_cast<std::size_t>(indent + 2), ' ');
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::same_as<T, std::nullptr_t>) {
            os << "null";
          } else if constexpr (std::same_as<T, bool>) {
            os << (x ? "true" : "false");
          } else if constexpr (std::same_as<T, std::int64_t>) {
            os << x;
          } else if constexpr (std::same_as<T, double>) {
            if (!std::isfinite(x)) {
              os << "null";
            } else {
              std::ostringstream s;
              s << std::setprecision(9) << x;
              os << s.str();
            }
          } else if constexpr (std::same_as<T, std::string>) {
            write_string(os, x);
          } else if constexpr (std::same_as<T, std::shared_ptr<Array>>) {
            if (x->empty()) {
              os << "[]";
              return;
            }
            os << "[\n";
            for (std::size_t i = 0; i < x->size(); ++i) {
              os << pad2;
              (*x)[i].write(os, indent + 2);
              os << (i + 1 < x->size() ? ",\n" : "\n");
            }
            os << pad << "]";
          } else {
            if (x->empty()) {
              os << "{}";
              return;
            }
            os << "{\n";
            for (std::size_t i = 0; i < x->size(); ++i) {
              os << pad2;
              write_string(os, (*x)[i].first);
              os << ": ";
              (*x)[i].second.write(os, indent + 2);
              os << (i + 1 < x->size() ? ",\n" : "\n");
            }
            os << pad << "}";
          }
        },
        v_);
  }
  std::string dump() const {
    std::ostringstream os;
    write(os);
    os << "\n";
    return os.str();
  }

 private:
  static void write_string(std::ostream& os, const std::string& s) {
    os << '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': os << "\\\""; break;
        case '\\': os << "\\\\"; break;
        case '\n': os << "\\n"; break;
        case '\r': os << "\\r"; break;
        case '\t': os << "\\t"; break;
        default:
          if (c < 0x20) {
            os << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int{c} << std::dec << std::setfill(' ');
          } else {
            os << static_cast<char>(c);
          }
      }
    }
    os << '"';
  }

  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v_;
};

}  // namespace qnn::json
