#include "loader/plugin_allowlist.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

namespace th {
namespace {

// A signature file is 64 bytes; anything much larger is not one (and is not read whole).
constexpr std::streamsize maximum_signature_size = 4096;

std::string read_small_file(const std::filesystem::path &p, std::streamsize limit) {
  std::ifstream in(p, std::ios::binary);
  std::string text(static_cast<size_t>(limit), '\0');
  in.read(text.data(), limit);
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// Ed25519 signature (raw 64 bytes, FILE.sig) of `bytes` with the PEM public key.
bool signature_valid(const std::string &public_key_file, const std::filesystem::path &file,
                     std::string_view bytes) {
  std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(public_key_file.c_str(), "r"), &std::fclose);
  if (!f)
    return false;
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY *)> key(PEM_read_PUBKEY(f.get(), nullptr, nullptr, nullptr),
                                                      &EVP_PKEY_free);
  if (!key)
    return false;
  std::string sig = read_small_file(file.string() + ".sig", maximum_signature_size);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size()) == 1;
}

} // namespace

PluginAllowlist plugin_allowlist(const Deployment &d) {
  PluginAllowlist a;
  if (auto it = d.document.find("plugin_allowlist"); it != d.document.end() && it->is_object()) {
    if (it->contains("sha256"))
      a.sha256 = (*it)["sha256"].get<std::vector<std::string>>();
    a.public_key = it->value("public_key", std::string());
  }
  return a;
}

std::string allowlist_refusal(const PluginAllowlist &a, const std::filesystem::path &file,
                              const std::string &sha256, std::string_view bytes) {
  if (!a.enabled())
    return "";
  if (std::find(a.sha256.begin(), a.sha256.end(), sha256) != a.sha256.end())
    return "";
  if (!a.public_key.empty() && signature_valid(a.public_key, file, bytes))
    return "";
  return "not on the plugin allowlist (sha256 " + sha256 + " is not listed" +
         (a.public_key.empty() ? ""
                               : " and " + file.filename().string() + ".sig is missing or does not verify") +
         ")";
}

LoadOptions load_options_for(const Deployment &d) {
  return load_options_for(d, std::filesystem::path(d.data_dir) / "plugin-cache");
}

LoadOptions load_options_for(const Deployment &d, const std::filesystem::path &cache_dir) {
  LoadOptions options;
  options.cache_dir = cache_dir;
  if (PluginAllowlist allowlist = plugin_allowlist(d); allowlist.enabled())
    options.admit = [allowlist](const std::filesystem::path &file, const std::string &sha256,
                                std::string_view bytes) {
      return allowlist_refusal(allowlist, file, sha256, bytes);
    };
  return options;
}

TemporaryPluginCache::TemporaryPluginCache() {
  std::string pattern = (std::filesystem::temp_directory_path() / "tradehost-plugin-cache-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) // mode 0700
    throw std::runtime_error("cannot create a private plugin cache in " +
                             std::filesystem::temp_directory_path().string() + ": " + std::strerror(errno));
  path_ = pattern;
}

TemporaryPluginCache::~TemporaryPluginCache() {
  std::error_code ignored; // mapped copies stay mapped once their files are gone
  std::filesystem::remove_all(path_, ignored);
}

} // namespace th
