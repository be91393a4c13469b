// The embedded deployment's order store (issue 13 finding 15): what a put returned is read back
// by the next process, a torn last line is ignored, clear() forgets everything.
#include "bus/file_key_value.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace th {
namespace {

std::filesystem::path temp_file() {
  std::string dir = (std::filesystem::temp_directory_path() / "tradehost-fkv-XXXXXX").string();
  if (!::mkdtemp(dir.data()))
    throw std::runtime_error("mkdtemp failed");
  return std::filesystem::path(dir) / "orders.journal";
}

TEST(FileKeyValue, WhatWasStoredIsReadBackByTheNextOpenAndCreateIsOnce) {
  using R = KeyValue::Result;
  auto path = temp_file();
  std::string value;
  uint64_t revision = 0;
  {
    FileKeyValue kv(path, false);
    EXPECT_EQ(kv.get("o1", value, revision), R::missing);
    EXPECT_EQ(kv.create("o1", "handing_over", value, revision), R::ok);
    EXPECT_EQ(kv.create("o1", "again", value, revision), R::exists);
    EXPECT_EQ(value, "handing_over");
    EXPECT_EQ(kv.update("o1", R"({"state":"handed_over"})", revision), R::ok);
    uint64_t stale = revision - 1;
    EXPECT_EQ(kv.update("o1", "stale", stale), R::conflict);
    EXPECT_EQ(kv.put("o2", "handing_over"), R::ok);
    EXPECT_EQ(kv.put("o4", "gone"), R::ok);
    EXPECT_EQ(kv.erase("o4"), R::ok);
  } // no clean close needed: every write is one write(2)
  // A crash mid-write leaves a torn last line without its newline.
  std::ofstream(path, std::ios::app) << R"({"k":"o3","v":"half)";
  {
    FileKeyValue kv(path, true);
    EXPECT_EQ(kv.get("o1", value, revision), R::ok);
    EXPECT_EQ(value, R"({"state":"handed_over"})");
    EXPECT_EQ(kv.get("o2", value, revision), R::ok);
    EXPECT_EQ(kv.get("o3", value, revision), R::missing);
    EXPECT_EQ(kv.get("o4", value, revision), R::missing);
    EXPECT_EQ(kv.create("o3", "handing_over", value, revision), R::ok); // after the torn line
    EXPECT_EQ(kv.size(), 3u);
  }
  {
    FileKeyValue kv(path, false);
    EXPECT_EQ(kv.get("o3", value, revision), R::ok);
    kv.clear();
    EXPECT_EQ(kv.get("o1", value, revision), R::missing);
  }
  FileKeyValue kv(path, false);
  EXPECT_EQ(kv.size(), 0u);
  std::filesystem::remove_all(path.parent_path());
}

TEST(FileKeyValue, RetainKeepsOnlyTheAcceptedRecordsAcrossAReopen) {
  using R = KeyValue::Result;
  auto path = temp_file();
  std::string value;
  uint64_t revision = 0;
  {
    FileKeyValue kv(path, false);
    ASSERT_EQ(kv.put(kv_key("old_corr.momentum_v1.1"), "handed_over"), R::ok);
    ASSERT_EQ(kv.put(kv_key("new_corr.momentum_v1.1"), "handing_over"), R::ok);
    ASSERT_EQ(kv.put(kv_key("new_corr.momentum_v1.2"), "handed_over"), R::ok);
    EXPECT_EQ(kv.retain([](const std::string &key) { return key.rfind("new_corr=2E", 0) == 0; }), 1u);
    EXPECT_EQ(kv.get(kv_key("old_corr.momentum_v1.1"), value, revision), R::missing);
    ASSERT_EQ(kv.put(kv_key("later.momentum_v1.1"), "handing_over"), R::ok); // appends to the new file
  }
  FileKeyValue kv(path, false);
  EXPECT_EQ(kv.size(), 3u);
  EXPECT_EQ(kv.get(kv_key("old_corr.momentum_v1.1"), value, revision), R::missing);
  EXPECT_EQ(kv.get(kv_key("new_corr.momentum_v1.1"), value, revision), R::ok);
  EXPECT_EQ(value, "handing_over");
  EXPECT_EQ(kv.get(kv_key("later.momentum_v1.1"), value, revision), R::ok);
  std::filesystem::remove_all(path.parent_path());
}

TEST(KeyValueKey, EscapesWhatKeysCannotHoldOneToOne) {
  EXPECT_EQ(kv_key("corr_01-ab"), "corr_01-ab");
  EXPECT_EQ(kv_key("corr_01.momentum_v1.1"), "corr_01=2Emomentum_v1=2E1");
  EXPECT_EQ(kv_key("a b/c"), "a=20b=2Fc");
  EXPECT_EQ(kv_key("a=b"), "a=3Db");
  EXPECT_EQ(kv_key(""), "=");
}

} // namespace
} // namespace th
