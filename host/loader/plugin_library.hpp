// One plugin shared library loaded through Boost.DLL, with its identity and its descriptor.
#pragma once

#include <tradehost/plugin.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace th {

struct PluginIdentity {
  std::string name;
  std::string version;
  std::string description;
  int32_t kind = 0; // TH_KIND_*
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  uint32_t flags = 0;
  std::filesystem::path path;        // absolute
  std::string sha256;                // hex of the file's bytes
  std::filesystem::path loaded_from; // the private copy actually mapped (LoadOptions::cache_dir), else path
};

std::string_view kind_name(int32_t kind); // "strategy", "risk", "executor", "audit-sink", "unknown"

class PluginLibrary {
public:
  virtual ~PluginLibrary() = default;
  virtual const PluginIdentity &identity() const = 0;
  // A host-sized copy of the plugin's descriptor: fields its struct_size did not reach are zero.
  virtual const th_plugin_descriptor &descriptor() const = 0;
  virtual std::string_view params_schema() const = 0; // "" when the plugin publishes none
};

// Why a file was not loaded. The message names the file and the reason, e.g.
// "plugins/x.so: ABI major 2 is not supported by this host (ABI 1.0)".
struct LoadRefusal {
  std::filesystem::path path;
  std::string reason;
};

// Loads one file. On refusal returns nullptr and fills *refusal. Never throws for a bad plugin.
std::shared_ptr<PluginLibrary> load_plugin_library(const std::filesystem::path &path, LoadRefusal *refusal);

struct LoadOptions {
  // When set, the file is read once through one descriptor; those bytes are hashed, admitted,
  // written to a private copy there (named by their SHA-256) and exactly that copy is mapped. The
  // original may then be rewritten at any moment without the mapped code differing from what was
  // hashed and admitted, and every version maps from its own path (a reload of the same path
  // could otherwise return the old mapping). An existing copy is reused only when it holds the
  // same bytes.
  std::filesystem::path cache_dir;
  // Called with the bytes read, their SHA-256 and the file they came from before anything is
  // mapped: "" admits, else the reason. Needs cache_dir (without one every file is refused).
  std::function<std::string(const std::filesystem::path &file, const std::string &sha256,
                            std::string_view bytes)>
      admit;
};
std::shared_ptr<PluginLibrary> load_plugin_library(const std::filesystem::path &path, LoadRefusal *refusal,
                                                   const LoadOptions &options);

// Hex SHA-256 of a file's bytes. Throws std::runtime_error when it cannot be read.
std::string sha256_of_file(const std::filesystem::path &path);
// Hex SHA-256 of bytes.
std::string sha256_of_bytes(std::string_view bytes);

} // namespace th
