// Loading one plugin file: open it with Boost.DLL, call its entry point, check the descriptor
// against the ABI rules, and keep the library mapped for as long as anything refers to it.
#include "loader/plugin_library.hpp"

#include "config/json_schema.hpp"

#include <boost/dll/shared_library.hpp>
#include <openssl/evp.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <elf.h>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <system_error>

namespace th {
namespace {

// The descriptor prefix a v1.0 host needs before it can say anything: size and ABI version.
constexpr size_t version_prefix_size = offsetof(th_plugin_descriptor, abi_minor) + sizeof(uint16_t);
// Identity and lifecycle fields every kind needs; kind-specific callbacks past them are checked
// per kind, so a descriptor that stops earlier simply lacks the later capabilities.
constexpr size_t minimum_descriptor_size = offsetof(th_plugin_descriptor, last_error) + sizeof(void *);
// A struct_size beyond this is garbage, not a later minor.
constexpr uint32_t maximum_descriptor_size = 64 * 1024;
constexpr size_t maximum_text_size = 1 << 20;

class LoadedLibrary final : public PluginLibrary {
public:
  LoadedLibrary(boost::dll::shared_library library, PluginIdentity identity,
                const th_plugin_descriptor &descriptor, std::string schema)
      : library_(std::move(library)), identity_(std::move(identity)), descriptor_(descriptor),
        schema_(std::move(schema)) {}

  const PluginIdentity &identity() const override { return identity_; }
  const th_plugin_descriptor &descriptor() const override { return descriptor_; }
  std::string_view params_schema() const override { return schema_; }

private:
  boost::dll::shared_library library_; // declared first: unloaded last
  PluginIdentity identity_;
  th_plugin_descriptor descriptor_;
  std::string schema_;
};

std::string version_text(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

const std::string &host_abi() {
  static const std::string text = version_text(TH_ABI_VERSION_MAJOR, TH_ABI_VERSION_MINOR);
  return text;
}

// A th_str from the plugin as a string, or nullopt when it is malformed (NULL with a length, or
// absurdly long).
std::optional<std::string> text_of(th_str s) {
  if (s.len == 0)
    return std::string();
  if (!s.ptr || s.len > maximum_text_size)
    return std::nullopt;
  return std::string(s.ptr, s.len);
}

// Why a 64-bit ELF file is cut short ("" when every segment and the section table lie inside
// it). dlopen maps segments by their headers; pages past the end of a truncated file (a copy
// still in progress) would fault with SIGBUS on first touch instead of failing cleanly.
std::string elf_truncation(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char *>(&header), sizeof header))
    return "shorter than an ELF header";
  if (header.e_ident[EI_CLASS] != ELFCLASS64)
    return "not a 64-bit ELF file";
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec)
    return "cannot read its size";
  if (header.e_shoff + uint64_t{header.e_shnum} * header.e_shentsize > size)
    return "truncated: the section table ends past the end of the file (copy still in progress?)";
  if (header.e_phoff + uint64_t{header.e_phnum} * sizeof(Elf64_Phdr) > size)
    return "truncated program headers";
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    if (!in.read(reinterpret_cast<char *>(&segment), sizeof segment))
      return "truncated program headers";
    if (segment.p_type == PT_LOAD && segment.p_offset + segment.p_filesz > size)
      return "truncated: a loadable segment ends past the end of the file (copy still in progress?)";
  }
  return "";
}

bool starts_with_elf_magic(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 4> magic{};
  return in.read(magic.data(), magic.size()) && std::memcmp(magic.data(),
                                                            "\x7f"
                                                            "ELF",
                                                            4) == 0;
}

bool valid_name(const std::string &name) {
  static const std::regex pattern("[a-z0-9_-]+");
  return !name.empty() && name.size() <= 64 && std::regex_match(name, pattern);
}

bool valid_version(const std::string &version) {
  static const std::regex pattern(
      R"((0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)");
  return version.size() <= 64 && std::regex_match(version, pattern);
}

// The callbacks a kind cannot work without (create/destroy/last_error are checked for all).
struct RequiredCallback {
  int32_t kind;
  const char *name;
  bool (*present)(const th_plugin_descriptor &);
};
constexpr RequiredCallback required_callbacks[] = {
    {TH_KIND_STRATEGY, "on_signal", [](const th_plugin_descriptor &d) { return d.on_signal != nullptr; }},
    {TH_KIND_RISK, "check_order", [](const th_plugin_descriptor &d) { return d.check_order != nullptr; }},
    {TH_KIND_EXECUTOR, "on_order_intent",
     [](const th_plugin_descriptor &d) { return d.on_order_intent != nullptr; }},
    {TH_KIND_AUDIT_SINK, "on_audit_event",
     [](const th_plugin_descriptor &d) { return d.on_audit_event != nullptr; }},
};

std::string dlerror_text() {
  const char *text = dlerror();
  return text ? text : "";
}

struct Refused {
  std::string reason;
};

} // namespace

std::string_view kind_name(int32_t kind) {
  switch (kind) {
  case TH_KIND_STRATEGY:
    return "strategy";
  case TH_KIND_RISK:
    return "risk";
  case TH_KIND_EXECUTOR:
    return "executor";
  case TH_KIND_AUDIT_SINK:
    return "audit-sink";
  default:
    return "unknown";
  }
}

namespace {

std::string hex_digest(EVP_MD_CTX *ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &length);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xf]);
  }
  return out;
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

DigestContext sha256_context() {
  DigestContext ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 unavailable");
  return ctx;
}

} // namespace

std::string sha256_of_bytes(std::string_view bytes) {
  DigestContext ctx = sha256_context();
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  return hex_digest(ctx.get());
}

std::string sha256_of_file(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path.string());
  DigestContext ctx = sha256_context();
  std::array<char, 64 * 1024> buffer;
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
    if (in.eof())
      break;
  }
  return hex_digest(ctx.get());
}

namespace {

// `sha256` is that of the bytes copied to `path` when known, else computed from the file.
std::shared_ptr<PluginLibrary> load_checked(const std::filesystem::path &path,
                                            const std::filesystem::path &reported,
                                            const std::string &sha256) {
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(path, fs_error))
    throw Refused{"not a regular file"};
  if (!starts_with_elf_magic(path))
    throw Refused{"not a shared library (no ELF header)"};
  if (std::string why = elf_truncation(path); !why.empty())
    throw Refused{"not a complete shared library: " + why};

  // RTLD_NOW: a missing symbol fails here, not in the middle of a trade. RTLD_LOCAL: plugins
  // cannot see each other's symbols.
  boost::dll::fs::error_code error;
  boost::dll::shared_library library(boost::dll::fs::path(path.string()), error,
                                     boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (error || !library.is_loaded()) {
    // Boost.DLL reduces the failure to an errno; dlerror() still holds the loader's words.
    std::string why = dlerror_text();
    if (why.empty())
      why = error.message();
    // dlerror() starts with the path, which the refusal already names.
    if (const std::string prefix = path.string() + ": "; why.rfind(prefix, 0) == 0)
      why.erase(0, prefix.size());
    throw Refused{"not a loadable shared library: " + why};
  }
  if (!library.has(TH_PLUGIN_ENTRY_SYMBOL))
    throw Refused{"missing entry symbol " TH_PLUGIN_ENTRY_SYMBOL " (is it exported with TH_PLUGIN_EXPORT?)"};
  auto entry = library.get<const th_plugin_descriptor *()>(TH_PLUGIN_ENTRY_SYMBOL);
  const th_plugin_descriptor *raw = entry();
  if (!raw)
    throw Refused{TH_PLUGIN_ENTRY_SYMBOL "() returned NULL"};

  if (raw->struct_size < version_prefix_size || raw->struct_size > maximum_descriptor_size)
    throw Refused{"descriptor struct_size " + std::to_string(raw->struct_size) + " is not a plausible size"};
  if (raw->abi_major != TH_ABI_VERSION_MAJOR)
    throw Refused{"built for plugin ABI " + version_text(raw->abi_major, raw->abi_minor) +
                  "; this host implements " + host_abi()};
  if (raw->abi_minor > TH_ABI_VERSION_MINOR)
    throw Refused{"needs plugin ABI " + version_text(raw->abi_major, raw->abi_minor) +
                  "; this host implements " + host_abi()};
  if (raw->struct_size < minimum_descriptor_size)
    throw Refused{"descriptor struct_size " + std::to_string(raw->struct_size) + " is smaller than the " +
                  std::to_string(minimum_descriptor_size) +
                  " bytes of the ABI 1.0 identity and lifecycle fields"};

  // A host-sized copy: bytes past the plugin's struct_size stay zero (absent), bytes past ours
  // (fields from a later minor) are ignored.
  th_plugin_descriptor descriptor{};
  std::memcpy(&descriptor, raw, std::min<size_t>(raw->struct_size, sizeof descriptor));

  PluginIdentity identity;
  identity.kind = descriptor.kind;
  identity.abi_major = descriptor.abi_major;
  identity.abi_minor = descriptor.abi_minor;
  identity.flags = descriptor.flags;
  identity.path = reported;
  identity.loaded_from = path;

  auto name = text_of(descriptor.name);
  if (!name || !valid_name(*name))
    throw Refused{"invalid plugin name \"" + name.value_or("<unreadable>") +
                  "\" (expected 1-64 characters of [a-z0-9_-])"};
  identity.name = *name;
  auto version = text_of(descriptor.version);
  if (!version || !valid_version(*version))
    throw Refused{"plugin " + identity.name + ": invalid version \"" + version.value_or("<unreadable>") +
                  "\" (expected a semantic version such as 1.0.0)"};
  identity.version = *version;
  auto description = text_of(descriptor.description);
  if (!description)
    throw Refused{"plugin " + identity.name + ": unreadable description"};
  identity.description = *description;

  if (kind_name(descriptor.kind) == "unknown")
    throw Refused{"plugin " + identity.name + ": unknown kind " + std::to_string(descriptor.kind) +
                  " (expected 1 strategy, 2 risk, 3 executor or 4 audit-sink)"};
  if (!descriptor.create || !descriptor.destroy || !descriptor.last_error)
    throw Refused{"plugin " + identity.name + ": missing required function " +
                  (!descriptor.create    ? "create"
                   : !descriptor.destroy ? "destroy"
                                         : "last_error")};
  for (const auto &required : required_callbacks)
    if (required.kind == descriptor.kind && !required.present(descriptor))
      throw Refused{"plugin " + identity.name + ": missing required function " + required.name +
                    " for kind " + std::string(kind_name(descriptor.kind))};

  auto schema = text_of(descriptor.params_schema);
  if (!schema)
    throw Refused{"plugin " + identity.name + ": unreadable params_schema"};
  if (!schema->empty()) {
    try {
      JsonSchema::parse(*schema);
    } catch (const std::exception &e) {
      throw Refused{"plugin " + identity.name + ": params_schema is not a valid JSON Schema: " + e.what()};
    }
  }

  try {
    identity.sha256 = sha256.empty() ? sha256_of_file(path) : sha256;
  } catch (const std::exception &e) {
    throw Refused{e.what()};
  }
  return std::make_shared<LoadedLibrary>(std::move(library), std::move(identity), descriptor,
                                         std::move(*schema));
}

} // namespace

std::shared_ptr<PluginLibrary> load_plugin_library(const std::filesystem::path &path, LoadRefusal *refusal) {
  return load_plugin_library(path, refusal, LoadOptions{});
}

namespace {

// A library is read into memory whole; far larger than any plugin is not one.
constexpr uint64_t maximum_library_size = uint64_t{512} << 20;

struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0)
      ::close(fd);
  }
};

// The whole file through one descriptor: the one snapshot that is hashed, admitted, copied and
// mapped, however the file changes meanwhile.
std::string read_once(const std::filesystem::path &path) {
  Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.fd < 0)
    throw Refused{std::string("cannot open: ") + std::strerror(errno)};
  struct stat st {};
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw Refused{"not a regular file"};
  if (static_cast<uint64_t>(st.st_size) > maximum_library_size)
    throw Refused{"larger than " + std::to_string(maximum_library_size >> 20) + " MiB"};
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  std::array<char, 64 * 1024> buffer;
  for (;;) {
    ssize_t n = ::read(file.fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw Refused{std::string("cannot read: ") + std::strerror(errno)};
    if (n == 0)
      return bytes;
    bytes.append(buffer.data(), static_cast<size_t>(n));
    if (bytes.size() > maximum_library_size)
      throw Refused{"larger than " + std::to_string(maximum_library_size >> 20) + " MiB"};
  }
}

// Whether the file at path holds exactly these bytes.
bool holds(const std::filesystem::path &path, std::string_view bytes) {
  try {
    return read_once(path) == bytes;
  } catch (const Refused &) {
    return false;
  }
}

// The private copy of `bytes` in cache_dir, named by their SHA-256. An entry already there is
// reused only when it holds these very bytes; otherwise a new file is written and renamed over
// it, so no copy is ever changed in place (a mapped copy changed in place would change the code
// running from it).
std::filesystem::path cached_copy(std::string_view bytes, const std::string &stem,
                                  const std::filesystem::path &cache_dir, const std::string &sha256) {
  std::filesystem::create_directories(cache_dir);
  std::error_code ignored; // only the host writes here
  std::filesystem::permissions(cache_dir, std::filesystem::perms::owner_all, ignored);
  auto copy = cache_dir / (stem + "-" + sha256 + ".so");
  if (holds(copy, bytes))
    return copy;
  std::string partial = (cache_dir / ("." + stem + "-XXXXXX")).string();
  Descriptor out{::mkstemp(partial.data())};
  if (out.fd < 0)
    throw std::runtime_error("cannot write the private copy in " + cache_dir.string() + ": " +
                             std::strerror(errno));
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(out.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::unlink(partial.c_str());
      throw std::runtime_error("cannot write the private copy " + partial + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(out.fd, S_IRUSR | S_IXUSR); // read-only: nothing rewrites a copy in place
  std::filesystem::rename(partial, copy);
  return copy;
}

} // namespace

std::shared_ptr<PluginLibrary> load_plugin_library(const std::filesystem::path &path, LoadRefusal *refusal,
                                                   const LoadOptions &options) {
  // Boost.DLL takes a bare file name as ./name; identity records absolute paths anyway.
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error)
    absolute = path;
  absolute = absolute.lexically_normal();
  try {
    if (options.cache_dir.empty()) {
      if (options.admit) // admitting bytes other than those mapped would mean nothing
        throw Refused{"an allowlist needs a private copy to map (LoadOptions::cache_dir is not set)"};
      return load_checked(absolute, absolute, "");
    }
    // One read: the copy is written from the bytes that were hashed and admitted, and mapped.
    std::string bytes = read_once(absolute);
    std::string sha = sha256_of_bytes(bytes);
    if (options.admit)
      if (std::string why = options.admit(absolute, sha, bytes); !why.empty())
        throw Refused{why};
    return load_checked(cached_copy(bytes, absolute.stem().string(), options.cache_dir, sha), absolute, sha);
  } catch (const Refused &r) {
    if (refusal)
      *refusal = LoadRefusal{absolute, absolute.string() + ": " + r.reason};
  } catch (const std::exception &e) {
    if (refusal)
      *refusal = LoadRefusal{absolute, absolute.string() + ": " + e.what()};
  } catch (...) {
    // A C++ entry point that throws something else.
    if (refusal)
      *refusal = LoadRefusal{absolute, absolute.string() + ": the plugin threw an exception while loading"};
  }
  return nullptr;
}

} // namespace th
