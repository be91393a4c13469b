// ABI stability: the current <tradehost/plugin.h> against the frozen v1.0 copy in
// tests/abi-v1.0. Within major 1, a struct may only grow at its end (and only a struct that
// starts with struct_size, since others are embedded in arrays or by value), every v1.0 field
// keeps its offset and size, and every v1.0 constant keeps its value (the minor may rise).
#include "abi_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

extern "C" {
extern const abi_layout_row mutant_layout[];
extern const size_t mutant_layout_rows;
}

namespace {

struct Table {
  const abi_layout_row *rows;
  size_t count;
};

// Everything in `newer` that breaks a plugin built against `older`, one line per problem.
std::vector<std::string> abi_breaks(Table older, Table newer) {
  std::vector<std::string> problems;
  if (older.count != newer.count)
    return {"row counts differ (the tables come from one list)"};
  std::set<std::string> growable; // structs that start with struct_size
  for (size_t i = 0; i < older.count; ++i)
    if (std::string(older.rows[i].field) == "struct_size" && older.rows[i].offset == 0)
      growable.insert(older.rows[i].type);
  for (size_t i = 0; i < older.count; ++i) {
    const abi_layout_row &o = older.rows[i], &n = newer.rows[i];
    std::string type = o.type, field = o.field, where = type + (field.empty() ? "" : "." + field);
    if (type == "const") {
      if (field == "TH_ABI_VERSION_MINOR" ? n.offset < o.offset : n.offset != o.offset)
        problems.push_back(field + " changed from " + std::to_string(o.offset) + " to " +
                           std::to_string(n.offset));
    } else if (field.empty()) {
      bool ok = growable.count(type) ? n.size >= o.size : n.size == o.size;
      if (!ok)
        problems.push_back("sizeof(" + type + ") changed from " + std::to_string(o.size) + " to " +
                           std::to_string(n.size));
    } else if (n.offset != o.offset || n.size != o.size) {
      problems.push_back(where + " moved from offset " + std::to_string(o.offset) + " size " +
                         std::to_string(o.size) + " to offset " + std::to_string(n.offset) + " size " +
                         std::to_string(n.size));
    }
  }
  return problems;
}

const Table frozen{frozen_v1_0_layout, frozen_v1_0_layout_rows};
const Table current{current_layout, current_layout_rows};
const Table mutant{mutant_layout, mutant_layout_rows};

TEST(AbiLayout, ListCoversEveryV1_0StructAndConstant) {
  std::map<std::string, int> kinds;
  for (size_t i = 0; i < frozen.count; ++i)
    ++kinds[std::string(frozen.rows[i].type) == "const" ? "const"
            : *frozen.rows[i].field                     ? "field"
                                                        : "struct"];
  EXPECT_EQ(kinds["struct"], 10);
  EXPECT_EQ(kinds["field"], 119);
  EXPECT_EQ(kinds["const"], 46);
}

TEST(AbiLayout, CurrentHeaderKeepsEveryV1_0Layout) {
  EXPECT_THAT(abi_breaks(frozen, current), testing::IsEmpty());
}

TEST(AbiLayout, CurrentHeaderIsStillMajor1) {
  bool found = false;
  for (size_t i = 0; i < current.count; ++i) {
    if (std::string(current.rows[i].field) == "TH_ABI_VERSION_MAJOR") {
      found = true;
      EXPECT_EQ(current.rows[i].offset, 1u);
    }
  }
  EXPECT_TRUE(found);
}

TEST(AbiLayout, GrowableStructsStartWithStructSize) {
  for (const char *type : {"th_signal", "th_order_intent", "th_fill", "th_reconcile", "th_audit_event",
                           "th_position", "th_host_api", "th_plugin_descriptor"}) {
    bool found = false;
    for (size_t i = 0; i < current.count; ++i)
      if (std::string(current.rows[i].type) == type && std::string(current.rows[i].field) == "struct_size") {
        found = true;
        EXPECT_EQ(current.rows[i].offset, 0u) << type;
        EXPECT_EQ(current.rows[i].size, 4u) << type;
      }
    EXPECT_TRUE(found) << type;
  }
}

// The check itself: a field inserted in the middle of th_signal must be reported.
TEST(AbiLayout, DetectsAFieldInsertedInTheMiddle) {
  auto problems = abi_breaks(frozen, mutant);
  ASSERT_THAT(problems, testing::Not(testing::IsEmpty()));
  EXPECT_THAT(problems, testing::Contains(testing::HasSubstr("th_signal.corr_id moved from offset 8")));
  EXPECT_THAT(problems, testing::Each(testing::HasSubstr("th_signal")));
}

} // namespace
