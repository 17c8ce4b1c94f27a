// grace/error.h: untrusted text and whole messages become one terminal line.
#include "grace/error.h"

#include <gtest/gtest.h>

#include <string>

namespace grace {
namespace {

TEST(QuoteInput, EscapesControlCharactersAndCutsLongText) {
  EXPECT_EQ(quote_input("a b"), "'a b'");
  EXPECT_EQ(quote_input(std::string("x\ny\rz\t\x1b\x7f\\", 9)), "'x\\ny\\rz\\t\\x1b\\x7f\\\\'");
  EXPECT_EQ(quote_input("caf\xc3\xa9"), "'caf\xc3\xa9'");  // UTF-8 kept
  EXPECT_EQ(quote_input(std::string(5, 'a'), 3), "'aaa'...(5 bytes)");
  EXPECT_EQ(quote_input(std::string(200, 'a')).find("..."), std::string::npos);
  EXPECT_NE(quote_input(std::string(201, 'a')).find("...(201 bytes)"), std::string::npos);
}

TEST(OneLine, EscapesControlCharactersAndCutsTheMiddle) {
  EXPECT_EQ(one_line("error: a\nb\tc\\d"), "error: a\\nb\\tc\\d");  // a backslash stays one
  const std::string m = "START" + std::string(2000, 'x') + "\nEND";
  const std::string l = one_line(m, 100);
  EXPECT_EQ(l.find('\n'), std::string::npos);
  EXPECT_EQ(l.rfind("START", 0), 0u) << l;
  EXPECT_EQ(l.substr(l.size() - 5), "\\nEND") << l;
  EXPECT_NE(l.find(" [... 1909 bytes cut ...] "), std::string::npos) << l;
  EXPECT_LT(l.size(), 140u);
  EXPECT_EQ(one_line(std::string(1000, 'y')), std::string(1000, 'y'));  // at the limit: whole
}

}  // namespace
}  // namespace grace
