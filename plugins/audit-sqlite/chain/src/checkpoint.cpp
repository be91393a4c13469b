#include "audit_chain/checkpoint.hpp"

#include "audit_chain/canonical_json.hpp"
#include "audit_chain/sha256.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace th::audit {
namespace {

struct FileCloser {
  void operator()(FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string errno_text() {
  return std::strerror(errno);
}

std::string raw_public_key_hex(EVP_PKEY *key) {
  uint8_t raw[32];
  size_t size = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &size) != 1 || size != sizeof raw)
    throw std::runtime_error("cannot read the Ed25519 public key");
  return to_hex(raw, size);
}

Pkey read_pem(const std::string &path, bool private_key) {
  File f(std::fopen(path.c_str(), "r"));
  if (!f)
    throw std::runtime_error("cannot open key file " + path + ": " + errno_text());
  EVP_PKEY *key = private_key ? PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr)
                              : PEM_read_PUBKEY(f.get(), nullptr, nullptr, nullptr);
  if (!key)
    throw std::runtime_error("key file " + path + " does not hold a PEM " +
                             (private_key ? "private key" : "public key"));
  Pkey owned(key);
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
    throw std::runtime_error("key file " + path + " is not an Ed25519 key");
  return owned;
}

// Creates a file that must not exist yet, with the given mode.
File create_exclusive(const std::string &path, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    throw std::runtime_error("cannot create " + path + ": " + errno_text());
  ::fchmod(fd, mode); // exactly this mode, whatever the umask
  File f(::fdopen(fd, "w"));
  if (!f) {
    ::close(fd);
    throw std::runtime_error("cannot open " + path + ": " + errno_text());
  }
  return f;
}

} // namespace

void PkeyDeleter::operator()(evp_pkey_st *k) const {
  EVP_PKEY_free(k);
}

std::string checkpoint_message(uint64_t chain_position, std::string_view hash) {
  std::string m = "tradehost-audit-checkpoint:v1:";
  m += std::to_string(chain_position);
  m += ':';
  m += hash;
  return m;
}

nlohmann::json to_json(const Checkpoint &c) {
  return {{"chain_position", c.chain_position},
          {"hash", c.hash},
          {"public_key", c.public_key},
          {"signature", c.signature},
          {"signed_at", c.signed_at}};
}

Checkpoint checkpoint_from_json(const nlohmann::json &j) {
  if (!j.is_object())
    throw std::invalid_argument("checkpoint is not a JSON object");
  auto text = [&](const char *name) -> std::string {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string())
      throw std::invalid_argument(std::string("checkpoint field \"") + name +
                                  "\" is missing or not a string");
    return it->get<std::string>();
  };
  Checkpoint c;
  auto pos = j.find("chain_position");
  if (pos == j.end() || !pos->is_number_unsigned())
    throw std::invalid_argument("checkpoint field \"chain_position\" is missing or not a positive integer");
  c.chain_position = pos->get<uint64_t>();
  c.hash = text("hash");
  c.signature = text("signature");
  c.public_key = text("public_key");
  c.signed_at = text("signed_at");
  return c;
}

std::vector<Checkpoint> read_checkpoint_file(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open checkpoint file " + path + ": " + errno_text());
  std::vector<Checkpoint> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    try {
      out.push_back(checkpoint_from_json(nlohmann::json::parse(line)));
    } catch (const std::exception &e) {
      throw std::runtime_error("checkpoint file " + path + " line " + std::to_string(number) + ": " +
                               e.what());
    }
  }
  return out;
}

void append_checkpoint_line(const std::string &path, const Checkpoint &c, bool sync) {
  std::string line = canonical_json(to_json(c)) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open checkpoint file " + path + ": " + errno_text());
  ssize_t written = ::write(fd, line.data(), line.size());
  bool ok = written == static_cast<ssize_t>(line.size()) && (!sync || ::fdatasync(fd) == 0);
  std::string error = ok ? "" : errno_text();
  ::close(fd);
  if (!ok)
    throw std::runtime_error("cannot append to checkpoint file " + path + ": " + error);
}

SigningKey SigningKey::load(const std::string &path) {
  SigningKey k;
  k.key_ = read_pem(path, true);
  k.public_key_hex_ = raw_public_key_hex(k.key_.get());
  return k;
}

Checkpoint SigningKey::sign(uint64_t chain_position, std::string_view hash, std::string signed_at) const {
  std::string message = checkpoint_message(chain_position, hash);
  MdCtx ctx(EVP_MD_CTX_new());
  uint8_t signature[64];
  size_t size = sizeof signature;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature, &size, reinterpret_cast<const uint8_t *>(message.data()),
                     message.size()) != 1)
    throw std::runtime_error("Ed25519 signing failed");
  return {chain_position, std::string(hash), to_hex(signature, size), public_key_hex_, std::move(signed_at)};
}

VerifyKey VerifyKey::load(const std::string &path) {
  VerifyKey k;
  k.key_ = read_pem(path, false);
  k.public_key_hex_ = raw_public_key_hex(k.key_.get());
  return k;
}

bool VerifyKey::verifies(const Checkpoint &c) const {
  std::string signature;
  if (!from_hex(c.signature, signature) || signature.size() != 64)
    return false;
  std::string message = checkpoint_message(c.chain_position, c.hash);
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const uint8_t *>(signature.data()), signature.size(),
                          reinterpret_cast<const uint8_t *>(message.data()), message.size()) == 1;
}

std::string generate_key_pair(const std::string &prefix) {
  EVP_PKEY *raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw)
    throw std::runtime_error("Ed25519 key generation failed");
  Pkey key(raw);
  std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
  if (::access(pub_path.c_str(), F_OK) == 0)
    throw std::runtime_error("refusing to overwrite " + pub_path);
  {
    File f = create_exclusive(key_path, 0600);
    if (PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw std::runtime_error("cannot write " + key_path);
  }
  File f = create_exclusive(pub_path, 0644);
  if (PEM_write_PUBKEY(f.get(), key.get()) != 1)
    throw std::runtime_error("cannot write " + pub_path);
  return raw_public_key_hex(key.get());
}

} // namespace th::audit
