// ABI stability: the current <tradehost/plugin.h> against the frozen v1.0 copy in
// tests/abi-v1.0. Within major 1, a struct may only grow at its end (and only a struct that
// starts with struct_size, since others are embedded in arrays or by value), every v1.0 field
// keeps its offset and size, and every v1.0 constant keeps its value (the minor may rise).
#include "abi_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tradehost/plugin.h>

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

// ABI 1.1 (sink health and durability, issue 13): each addition sits past every v1.0 field of its
// struct, at the offset it was released with, and each constant keeps its value. The pinned
// rows are the LP64 layout (Linux x86_64 and arm64, the platforms built here).
TEST(AbiLayout, V1_1AdditionsAreAppendedAtTheirReleasedOffsets) {
  const std::map<std::string, std::pair<size_t, size_t>> released{
      {"th_audit_event.sequence", {96, 8}},
      {"th_order_intent.order_id", {184, 16}},
      {"th_host_api.report_sink_state", {80, 8}},
      {"th_host_api.durable_up_to", {88, 8}},
      {"TH_SINK_WRITABLE", {1, 0}},
      {"TH_SINK_UNAVAILABLE", {2, 0}},
      {"TH_PLUGIN_FLAG_REPORTS_DURABLE", {2, 0}},
      // The trading state (issue 13 finding 11).
      {"th_host_api.trading_state", {96, 8}},
      {"th_plugin_descriptor.cancel_all", {160, 8}},
      {"TH_TRADING_ACTIVE", {1, 0}},
      {"TH_TRADING_REDUCING", {2, 0}},
      {"TH_TRADING_HALTED", {3, 0}},
  };
  std::map<std::string, size_t> v1_0_size;
  std::set<size_t> v1_0_flag_bits;
  for (size_t i = 0; i < frozen.count; ++i) {
    const abi_layout_row &r = frozen.rows[i];
    if (std::string(r.type) != "const" && !*r.field)
      v1_0_size[r.type] = r.size;
    if (std::string(r.field).rfind("TH_PLUGIN_FLAG_", 0) == 0)
      v1_0_flag_bits.insert(r.offset);
  }
  ASSERT_EQ(current_v1_1_layout_rows, released.size());
  for (size_t i = 0; i < current_v1_1_layout_rows; ++i) {
    const abi_layout_row &r = current_v1_1_layout[i];
    const bool constant = std::string(r.type) == "const";
    const std::string name = constant ? r.field : std::string(r.type) + "." + r.field;
    auto it = released.find(name);
    ASSERT_NE(it, released.end()) << name << " is not pinned here";
    EXPECT_EQ(r.offset, it->second.first) << name;
    EXPECT_EQ(r.size, it->second.second) << name;
    if (!constant) {
      EXPECT_GE(r.offset, v1_0_size.at(r.type)) << name << " must come after every v1.0 field";
    }
  }
  for (size_t bit : v1_0_flag_bits)
    EXPECT_EQ(bit & TH_PLUGIN_FLAG_REPORTS_DURABLE, 0u) << "the 1.1 flag reuses a v1.0 bit";
}

// The check itself: a field inserted in the middle of th_signal must be reported.
TEST(AbiLayout, DetectsAFieldInsertedInTheMiddle) {
  auto problems = abi_breaks(frozen, mutant);
  ASSERT_THAT(problems, testing::Not(testing::IsEmpty()));
  EXPECT_THAT(problems, testing::Contains(testing::HasSubstr("th_signal.corr_id moved from offset 8")));
  EXPECT_THAT(problems, testing::Each(testing::HasSubstr("th_signal")));
}

} // namespace
