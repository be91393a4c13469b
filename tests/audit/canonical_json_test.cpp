#include "sample_events.hpp"

#include <audit_chain/canonical_json.hpp>
#include <audit_chain/timestamp.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace th::audit {
namespace {

std::string num(double v) {
  std::string out;
  append_number(v, out);
  return out;
}

TEST(CanonicalJson, NumbersPrintAsEcmaScript) {
  EXPECT_EQ(num(0.0), "0");
  EXPECT_EQ(num(-0.0), "0");
  EXPECT_EQ(num(1), "1");
  EXPECT_EQ(num(-1.5), "-1.5");
  EXPECT_EQ(num(0.1), "0.1");
  EXPECT_EQ(num(4.50), "4.5");
  EXPECT_EQ(num(0.002), "0.002");
  EXPECT_EQ(num(1e-6), "0.000001");
  EXPECT_EQ(num(1e-7), "1e-7");
  EXPECT_EQ(num(1e20), "100000000000000000000");
  EXPECT_EQ(num(1e21), "1e+21");
  EXPECT_EQ(num(1e30), "1e+30");
  EXPECT_EQ(num(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(num(333333333.33333329), "333333333.3333333");
  EXPECT_EQ(num(5e-324), "5e-324");
  EXPECT_EQ(num(-1.7976931348623157e308), "-1.7976931348623157e+308");
  EXPECT_EQ(num(1.5e-7), "1.5e-7");
  EXPECT_EQ(num(187.25), "187.25");
  EXPECT_THROW(num(std::numeric_limits<double>::infinity()), CanonicalJsonError);
  EXPECT_THROW(num(std::numeric_limits<double>::quiet_NaN()), CanonicalJsonError);
}

TEST(CanonicalJson, IntegersAreDoubles) {
  EXPECT_EQ(
      canonicalize("[9007199254740992, 9007199254740993, -9007199254740993, 123456789012345678901, 1E2]"),
      "[9007199254740992,9007199254740992,-9007199254740992,123456789012345680000,100]");
  EXPECT_EQ(canonicalize("[1.0, -0, 2.50e0, 1e+0]"), "[1,0,2.5,1]");
}

TEST(CanonicalJson, StringsUseMinimalEscaping) {
  EXPECT_EQ(canonicalize(R"("a\"b\\c\/d")"), R"("a\"b\\c/d")");
  EXPECT_EQ(canonicalize(R"("\b\f\n\r\t\u0001\u001F\u007f")"), "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
  EXPECT_EQ(canonicalize(R"("caf\u00e9 \u2028 \ud83d\ude00")"),
            "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(canonicalize("\"caf\xc3\xa9\""), "\"caf\xc3\xa9\"");
}

TEST(CanonicalJson, KeysSortByUtf16CodeUnitsWithoutWhitespace) {
  EXPECT_EQ(canonicalize(R"({ "b": 1, "a": [ 1, { "d": 2, "c": 3 } ], "aa": 3, "A": 4 })"),
            R"({"A":4,"a":[1,{"c":3,"d":2}],"aa":3,"b":1})");
  // RFC 8785 section 3.2.3's example: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
  std::string sorted = canonicalize(
      R"({"\u20ac":"Euro","\r":"CR","\ufb33":"Dalet","1":"One","\ud83d\ude00":"Emoji","\u0080":"Ctl","\u00f6":"o"})");
  EXPECT_EQ(sorted,
            "{\"\\r\":\"CR\",\"1\":\"One\",\"\xc2\x80\":\"Ctl\",\"\xc3\xb6\":\"o\",\"\xe2\x82\xac\":\"Euro\","
            "\"\xf0\x9f\x98\x80\":\"Emoji\",\"\xef\xac\xb3\":\"Dalet\"}");
  EXPECT_TRUE(utf16_less("\xf0\x9f\x98\x80", "\xef\xbd\xa1")); // U+1F600 < U+FF61 in UTF-16
  EXPECT_FALSE(utf16_less("\xef\xbd\xa1", "\xf0\x9f\x98\x80"));
  EXPECT_TRUE(utf16_less("a", "b"));
}

TEST(CanonicalJson, LiteralsAndEmptyContainers) {
  EXPECT_EQ(canonicalize(" { \"t\" : true , \"f\" : false , \"n\" : null , \"o\" : { } , \"a\" : [ ] } "),
            R"({"a":[],"f":false,"n":null,"o":{},"t":true})");
}

TEST(CanonicalJson, RejectsInvalidInput) {
  EXPECT_THROW(canonicalize("{\"a\":"), CanonicalJsonError);
  EXPECT_THROW(canonicalize("\"\xff\""), CanonicalJsonError);
  EXPECT_THROW(canonicalize("1e400"), CanonicalJsonError);
}

TEST(CanonicalJson, RejectsDuplicateKeysAndBadEscapes) {
  EXPECT_THROW(canonicalize(R"({"a":1,"b":2,"a":3})"), CanonicalJsonError);
  EXPECT_THROW(canonicalize(R"({"b":1,"a":2,"b":3})"), CanonicalJsonError);
  EXPECT_THROW(canonicalize(R"("\ud800")"), CanonicalJsonError);
  EXPECT_THROW(canonicalize(R"("\x")"), CanonicalJsonError);
  EXPECT_THROW(canonicalize("\"tab\tinside\""), CanonicalJsonError);
  EXPECT_THROW(canonicalize("[1,]"), CanonicalJsonError);
  EXPECT_THROW(canonicalize("01"), CanonicalJsonError);
  EXPECT_THROW(canonicalize("{} {}"), CanonicalJsonError);
  EXPECT_THROW(canonicalize(std::string(1000, '[')), CanonicalJsonError);
  EXPECT_EQ(canonicalize(R"({"a":{"a":1},"b":{"a":2}})"),
            R"({"a":{"a":1},"b":{"a":2}})"); // same key, other objects
}

// The one-pass canonicalize() and canonical_json() over nlohmann's document agree.
TEST(CanonicalJson, OnePassParserMatchesTheDocumentForm) {
  for (uint64_t i = 0; i < 300; ++i) {
    std::string text = audit_test::sample_event("c", i).data_json;
    EXPECT_EQ(canonicalize(text), canonical_json(nlohmann::json::parse(text))) << text;
  }
  for (std::string text :
       {"[0.1,-0.0,1E+2,1e-7,123456789012345678,-123456789012345,1.0e21,[],{},\"\\u00e9\"]",
        R"({"z":{"y":[{"b":1,"a":2}],"x":null},"\u00e9":"\u20ac"})"})
    EXPECT_EQ(canonicalize(text), canonical_json(nlohmann::json::parse(text))) << text;
}

TEST(CanonicalJson, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));         // truncated
}

TEST(Timestamp, Rfc3339Milliseconds) {
  EXPECT_EQ(rfc3339_ms(1736937001250000000), "2025-01-15T10:30:01.250Z");
  EXPECT_EQ(rfc3339_ms(1736937001250999999), "2025-01-15T10:30:01.250Z");
  EXPECT_EQ(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(rfc3339_ms(951782400000000000), "2000-02-29T00:00:00.000Z");
}

} // namespace
} // namespace th::audit

namespace th::audit {
namespace {

// Issue 14: no parser recurses on attacker-controlled depth. The canonical parser stops at 256
// levels with an error instead of 100,000 stack frames.
TEST(AuditCanonicalJson, DeepNestingIsRefusedWithoutRecursingFurther) {
  EXPECT_EQ(canonicalize(std::string(200, '[') + std::string(200, ']')),
            std::string(200, '[') + std::string(200, ']'));
  EXPECT_THROW(canonicalize(std::string(100'000, '[') + std::string(100'000, ']')), CanonicalJsonError);
  EXPECT_THROW(canonicalize(std::string(100'000, '{')), CanonicalJsonError);
}

} // namespace
} // namespace th::audit
