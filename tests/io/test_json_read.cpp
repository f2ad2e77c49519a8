// qnn/io/json_read.hpp: values, exact integers, escapes, and errors that name the line, column or
// field.
#include <doctest/doctest.h>

#include <string>

#include "qnn/io/json_read.hpp"

using qnn::json::Node;
using qnn::json::parse;

TEST_CASE("json_read: values and structure") {
  const Node n = parse(R"({"a": [1, -2, 3.5, 1e3, true, false, null, "x"], "b": {"c": "d"}, "big": 9007199254740993})",
                       "t.json");
  const auto& a = n.at("a").items();
  REQUIRE(a.size() == 8);
  CHECK(a[0].as_int() == 1);
  CHECK(a[1].as_int() == -2);
  CHECK(a[2].as_number() == 3.5);
  CHECK(a[3].as_number() == 1000.0);
  CHECK(a[4].as_bool());
  CHECK_FALSE(a[5].as_bool());
  CHECK(a[6].is_null());
  CHECK(a[7].as_string() == "x");
  CHECK(n.at("b").at("c").as_string() == "d");
  CHECK(n.at("big").as_int() == 9007199254740993);  // 2^53 + 1: kept exactly, not through double
  CHECK(n.find("nope") == nullptr);
  CHECK(n.members().size() == 3);
  CHECK(n.at("b").at("c").where() == "t.json: b.c");
  CHECK(a[7].where() == "t.json: a[7]");
}

TEST_CASE("json_read: string escapes and UTF-8") {
  CHECK(parse(R"("a\"b\\c\/d\n\t")").as_string() == "a\"b\\c/d\n\t");
  CHECK(parse(R"("\u00e9")").as_string() == "\xc3\xa9");
  CHECK(parse(R"("\u20ac")").as_string() == "\xe2\x82\xac");
  CHECK(parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80");  // a surrogate pair
  CHECK(parse("\"caf\xc3\xa9\"").as_string() == "caf\xc3\xa9");          // raw UTF-8 passes through
}

TEST_CASE("json_read: syntax errors name the line and column") {
  auto err = [](const std::string& text) {
    try {
      parse(text, "m.json");
    } catch (const qnn::error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("{\n  \"a\": 1,\n  \"b\" 2\n}") == "m.json:3:7: expected ':' after an object key");
  CHECK(err("[1, 2") == "m.json:1:6: expected ',' or ']' in array");
  CHECK(err("{\"a\": 1, \"a\": 2}") == "m.json:1:10: duplicate key \"a\"");
  CHECK(err("[01]") == "m.json:1:3: expected ',' or ']' in array");
  CHECK(err("1.") == "m.json:1:3: malformed number: digits expected after '.'");
  CHECK(err("\"abc") == "m.json:1:5: unterminated string");
  CHECK(err("\"a\nb\"") == "m.json:2:1: control character in string (escape it)");
  CHECK(err("\"\\ud800\"") == "m.json:1:8: unpaired high surrogate in \\u escape");
  CHECK(err("[1] x") == "m.json:1:5: unexpected text after the JSON value");
  CHECK(err("") == "m.json:1:1: unexpected end of input, expected a value");
  CHECK(err("tru") == "m.json:1:1: unexpected character 't', expected a value");
  CHECK(err(std::string(300, '[')).find("nesting deeper than 256 levels") != std::string::npos);
}

TEST_CASE("json_read: type errors name the field") {
  const Node n = parse(R"({"shape": {"M": "64", "K": 1.5, "N": 99999999999999999999}, "x": 300})", "m.json");
  CHECK_THROWS_WITH_AS(n.at("shape").at("M").as_int(), "m.json: shape.M: expected a number, got a string", qnn::error);
  CHECK_THROWS_WITH_AS(n.at("shape").at("K").as_int(), "m.json: shape.K: expected an integer, got 1.5", qnn::error);
  CHECK_THROWS_WITH_AS(n.at("shape").at("N").as_int(), "m.json: shape.N: expected an integer, got 99999999999999999999",
                       qnn::error);
  CHECK_THROWS_WITH_AS(n.at("x").as_int(0, 255), "m.json: x: 300 is outside [0, 255]", qnn::error);
  CHECK_THROWS_WITH_AS(n.at("shape").at("L"), "m.json: shape: missing key \"L\"", qnn::error);
  CHECK_THROWS_WITH_AS(n.at("x").items(), "m.json: x: expected an array, got a number", qnn::error);
  CHECK_THROWS_WITH_AS(n.check_keys({"shape"}), "m.json: (root): unknown key \"x\" (expected one of: shape)",
                       qnn::error);
}
