// Minimal RAII over the SQLite C API; errors throw SqliteError naming the database and the step.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace th::audit {

struct SqliteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Statement;

class Database {
public:
  enum class Mode { read_only, read_write_create };
  Database(const std::string &path, Mode mode);
  ~Database();
  Database(const Database &) = delete;
  Database &operator=(const Database &) = delete;

  void exec(const char *sql);
  sqlite3 *handle() const { return db_; }
  const std::string &path() const { return path_; }
  [[noreturn]] void fail(std::string_view what) const;

private:
  sqlite3 *db_ = nullptr;
  std::string path_;
};

class Statement {
public:
  Statement(Database &db, const char *sql);
  ~Statement();
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  // Text bound without copying: it must outlive the next step().
  void bind(int index, std::string_view text);
  void bind(int index, int64_t value);
  // SQLITE_ROW -> true, SQLITE_DONE -> false, otherwise throws.
  bool step();
  void reset();

  int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string_view text(int column) const;
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

private:
  Database &db_;
  sqlite3_stmt *stmt_ = nullptr;
};

} // namespace th::audit
