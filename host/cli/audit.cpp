// tradehost audit: verify, export, keygen and head for the hash-chained audit trail written by
// the audit-sqlite plugin. The format is in docs/audit-format.md; the logic is in audit_chain.
#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/trail_filter.hpp"

#include <audit_chain/checkpoint.hpp>
#include <audit_chain/head.hpp>
#include <audit_chain/row.hpp>
#include <audit_chain/rows.hpp>
#include <audit_chain/schema.hpp>
#include <audit_chain/sqlite.hpp>
#include <audit_chain/verify.hpp>

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <exception>
#include <string>

namespace th::cli {
namespace {

const char *const audit_usage = R"(Usage: tradehost audit <verify|export|keygen|head> [options]

  verify DB [--pubkey FILE] [--checkpoints FILE|--no-sidecar] [--json]
                     check every row and checkpoint; exit 0 valid, 1 tampered, 2 unreadable
  export DB [--from N] [--to M]
                     write rows N..M (default: all) as JSON lines to stdout
  keygen --out PREFIX
                     write an Ed25519 key pair: PREFIX.key (mode 0600) and PREFIX.pub
  head DB            print the last position, hash and checkpoint as JSON

`tradehost audit <command> --help` describes a command.
)";

const char *const verify_usage =
    R"(Usage: tradehost audit verify DB [--pubkey FILE] [--checkpoints FILE|--no-sidecar] [--json]

Recomputes every row's hash, checks each row's link to the one before, that positions run
1, 2, 3, ... without gaps or moves, and that every checkpoint (the database's checkpoints
table, plus the sidecar file) names a row that exists and has the signed hash. The sidecar is
DB.checkpoints.jsonl when that file exists, or the file given with --checkpoints; a sidecar
checkpoint the table lacks means checkpoint rows were deleted. With --pubkey (PEM, from
`audit keygen`) checkpoint signatures are verified too; without it they are not, and a
rewritten chain with rewritten checkpoints can go unnoticed.

Prints the first bad position and why: hash_mismatch, broken_link, gap, reordering,
insertion, truncation, checkpoint_mismatch, missing_checkpoint, bad_signature or malformed.

Options:
  --pubkey FILE       trusted Ed25519 public key (PEM)
  --checkpoints FILE  sidecar checkpoint file (JSON lines); default DB.checkpoints.jsonl if it exists
  --no-sidecar        check the checkpoints table only, even when DB.checkpoints.jsonl exists
  --json              print the result as one JSON object

Exit codes: 0 valid, 1 tampered, 2 unreadable (database, key or sidecar) or usage error.
)";

const std::string export_usage = std::string(R"(Usage: tradehost audit export DB [--from N] [--to M] [filters]

Writes rows with chain_position N..M (inclusive; default the whole chain) to stdout, one JSON
object per line in canonical form: chain_position, correlation_id, data, event_id, event_type,
hash, previous_hash, service, timestamp. Nothing is verified; use `audit verify` for that.

Filters:
)") + trail_filter_help + R"(
Exit codes: 0 ok, 2 unreadable database or usage error.
)";

const char *const keygen_usage = R"(Usage: tradehost audit keygen --out PREFIX

Writes a new Ed25519 key pair for signing audit checkpoints: PREFIX.key (PKCS#8 PEM, mode
0600; give it to the audit-sqlite plugin as signing_key) and PREFIX.pub (PEM; give it to
`audit verify --pubkey`). Refuses to overwrite existing files. Prints the public key (hex).

Exit codes: 0 ok, 1 the files could not be written, 2 usage error.
)";

const char *const head_usage = R"(Usage: tradehost audit head DB

Prints {"chain_position":N,"hash":"sha256:..","last_checkpoint":{..}|null} for the database
(position 0 and the genesis hash for an empty chain). Nothing is verified.

Exit codes: 0 ok, 2 unreadable database or usage error.
)";

int usage_error(const std::string &message, const char *usage) {
  std::fprintf(stderr, "tradehost audit: %s\n\n%s", message.c_str(), usage);
  return 2;
}

// Parses the sub-command's options; returns nullopt after printing help (exit 0).
std::optional<ParsedArgs> parse(const Args &args, const std::vector<OptionSpec> &specs, const char *usage) {
  ParsedArgs parsed = parse_args(args, specs);
  if (parsed.has("--help")) {
    std::fputs(usage, stdout);
    return std::nullopt;
  }
  return parsed;
}

std::string one_db(const ParsedArgs &a) {
  if (a.positional.size() != 1)
    throw UsageError("expected exactly one database path");
  return a.positional[0];
}

int verify_command(const Args &args) {
  auto a = parse(args,
                 {{"--pubkey", "", true},
                  {"--checkpoints", "", true},
                  {"--no-sidecar", "", false},
                  {"--json", "", false}},
                 verify_usage);
  if (!a)
    return 0;
  std::string db = one_db(*a);
  if (a->has("--no-sidecar") && a->value("--checkpoints"))
    throw UsageError("--checkpoints and --no-sidecar exclude each other");
  audit::VerifyOptions options{a->value("--pubkey"), a->value("--checkpoints")};
  // The sink writes its sidecar beside the database by default: a forger who deletes checkpoint
  // rows from the table is caught by it without the user having to remember the option.
  if (!options.checkpoint_file && !a->has("--no-sidecar")) {
    std::string beside = db + ".checkpoints.jsonl";
    if (::access(beside.c_str(), F_OK) == 0)
      options.checkpoint_file = beside;
  }
  audit::VerifyReport r;
  try {
    r = audit::verify(db, options);
  } catch (const audit::Unreadable &e) {
    if (a->has("--json"))
      std::printf("%s\n", nlohmann::json{{"status", "unreadable"}, {"error", e.what()}}.dump().c_str());
    std::fprintf(stderr, "tradehost audit verify: unreadable: %s\n", e.what());
    return 2;
  }
  if (a->has("--json")) {
    nlohmann::json out{{"status", r.ok() ? "valid" : "tampered"},
                       {"rows", r.rows},
                       {"checkpoints", r.checkpoints},
                       {"table_checkpoints", r.table_checkpoints},
                       {"sidecar_checkpoints", r.sidecar_checkpoints},
                       {"checkpoint_file", options.checkpoint_file ? nlohmann::json(*options.checkpoint_file)
                                                                   : nlohmann::json(nullptr)},
                       {"signatures_checked", r.signatures_checked},
                       {"head_position", r.head_position},
                       {"head_hash", r.head_hash}};
    if (r.first_problem)
      out["first_problem"] = {{"chain_position", r.first_problem->chain_position},
                              {"reason", audit::problem_name(r.first_problem->problem)},
                              {"detail", r.first_problem->detail}};
    std::printf("%s\n", out.dump().c_str());
  } else if (r.ok()) {
    std::string sidecar = options.checkpoint_file ? std::to_string(r.sidecar_checkpoints) + " in sidecar " +
                                                        *options.checkpoint_file
                                                  : std::string("no sidecar");
    std::printf("valid: %llu rows, head %s at position %llu, %llu checkpoints (%llu in the table, %s; %s)\n",
                static_cast<unsigned long long>(r.rows), r.head_hash.c_str(),
                static_cast<unsigned long long>(r.head_position),
                static_cast<unsigned long long>(r.checkpoints),
                static_cast<unsigned long long>(r.table_checkpoints), sidecar.c_str(),
                r.signatures_checked ? "signatures verified" : "signatures NOT checked: no --pubkey");
  } else {
    std::printf("tampered: first bad position %llu: %s: %s\n",
                static_cast<unsigned long long>(r.first_problem->chain_position),
                std::string(audit::problem_name(r.first_problem->problem)).c_str(),
                r.first_problem->detail.c_str());
  }
  return r.ok() ? 0 : 1;
}

int export_command(const Args &args) {
  auto a = parse(args, trail_filter_options(), export_usage.c_str());
  if (!a)
    return 0;
  std::string path = one_db(*a);
  const audit::RowFilter filter = trail_filter(*a);
  try {
    audit::Database db(path, audit::Database::Mode::read_only);
    audit::require_schema(db);
    std::string line;
    bool written = true;
    audit::read_rows(db, filter, [&](const audit::Row &row) {
      if (!written)
        return;
      line.clear();
      audit::append_row_record(row.view(), row.hash, line);
      line += '\n';
      written = std::fwrite(line.data(), 1, line.size(), stdout) == line.size();
    });
    if (!written) {
      std::fputs("tradehost audit export: cannot write to stdout\n", stderr);
      return 1;
    }
  } catch (const audit::SqliteError &e) {
    std::fprintf(stderr, "tradehost audit export: unreadable: %s\n", e.what());
    return 2;
  }
  return 0;
}

int keygen_command(const Args &args) {
  auto a = parse(args, {{"--out", "-o", true}}, keygen_usage);
  if (!a)
    return 0;
  auto prefix = a->value("--out");
  if (!prefix || prefix->empty() || !a->positional.empty())
    throw UsageError("keygen needs --out PREFIX and nothing else");
  try {
    std::string public_key = audit::generate_key_pair(*prefix);
    std::printf("wrote %s.key (private, mode 0600) and %s.pub; public key %s\n", prefix->c_str(),
                prefix->c_str(), public_key.c_str());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "tradehost audit keygen: %s\n", e.what());
    return 1;
  }
  return 0;
}

int head_command(const Args &args) {
  auto a = parse(args, {}, head_usage);
  if (!a)
    return 0;
  std::string path = one_db(*a);
  try {
    std::printf("%s\n", audit::to_json(audit::read_head(path)).dump().c_str());
  } catch (const audit::SqliteError &e) {
    std::fprintf(stderr, "tradehost audit head: unreadable: %s\n", e.what());
    return 2;
  }
  return 0;
}

} // namespace

int audit_command(const Args &args) {
  if (args.empty()) {
    std::fputs(audit_usage, stderr);
    return 2;
  }
  const std::string &sub = args[0];
  Args rest(args.begin() + 1, args.end());
  const char *usage = audit_usage;
  try {
    if (sub == "--help" || sub == "-h" || sub == "help") {
      std::fputs(audit_usage, stdout);
      return 0;
    }
    if (sub == "verify") {
      usage = verify_usage;
      return verify_command(rest);
    }
    if (sub == "export") {
      usage = export_usage.c_str();
      return export_command(rest);
    }
    if (sub == "keygen") {
      usage = keygen_usage;
      return keygen_command(rest);
    }
    if (sub == "head") {
      usage = head_usage;
      return head_command(rest);
    }
    return usage_error("unknown audit command '" + sub + "'", audit_usage);
  } catch (const UsageError &e) {
    return usage_error(e.what(), usage);
  }
}

} // namespace th::cli
