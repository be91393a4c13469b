#include "journal.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fix_broker {

using nlohmann::json;

Journal::Journal(const std::string &path, bool fsync) : path_(path), fsync_(fsync) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_object())
        continue; // a torn last line
      if (j.contains("exec"))
        exec_ids_.insert(j.value("exec", ""));
      else if (j.contains("closed")) {
        if (auto it = orders_.find(j.value("closed", "")); it != orders_.end())
          it->second.open = false;
      } else if (j.contains("current")) { // a replace took effect: cancels name its ClOrdID
        if (auto it = orders_.find(j.value("of", "")); it != orders_.end())
          it->second.current_cl_ord_id = j.value("current", "");
      } else if (j.contains("alias"))
        aliases_[j.value("alias", "")] = j.value("of", "");
      else if (j.contains("order")) {
        OrderRecord o;
        o.order_id = j.value("order", "");
        o.corr_id = j.value("corr_id", "");
        o.parent_corr_id = j.value("parent_corr_id", "");
        o.agent_id = j.value("agent_id", "");
        o.instrument = j.value("instrument", "");
        o.side = j.value("side", 0);
        o.quantity = j.value("quantity", 0.0);
        o.ord_type = j.value("ord_type", std::string("1"))[0];
        o.time_in_force = j.value("tif", std::string("0"))[0];
        o.price = j.value("price", 0.0);
        o.stop_px = j.value("stop_px", 0.0);
        o.current_cl_ord_id = o.order_id;
        orders_[o.order_id] = o;
      }
    }
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("fix-broker: cannot open journal " + path + ": " + std::strerror(errno));
  // A torn last line would glue onto the next record: start on a fresh line.
  if (::lseek(fd_, 0, SEEK_END) > 0)
    append("");
}

Journal::~Journal() {
  if (fd_ >= 0)
    ::close(fd_);
}

void Journal::append(const std::string &line) {
  std::string text = line + "\n";
  const char *p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw std::runtime_error("fix-broker: journal write failed: " + std::string(std::strerror(errno)));
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (fsync_ && ::fdatasync(fd_) != 0)
    throw std::runtime_error("fix-broker: journal fdatasync failed: " + std::string(std::strerror(errno)));
}

void Journal::record_exec(const std::string &exec_id) {
  if (exec_ids_.insert(exec_id).second)
    append(json{{"exec", exec_id}}.dump());
}

void Journal::record_order(const OrderRecord &order) {
  OrderRecord &o = orders_[order.order_id] = order;
  o.current_cl_ord_id = o.order_id;
  append(json{{"order", o.order_id},
              {"corr_id", o.corr_id},
              {"parent_corr_id", o.parent_corr_id},
              {"agent_id", o.agent_id},
              {"instrument", o.instrument},
              {"side", o.side},
              {"quantity", o.quantity},
              {"ord_type", std::string(1, o.ord_type)},
              {"tif", std::string(1, o.time_in_force)},
              {"price", o.price},
              {"stop_px", o.stop_px}}
             .dump());
}

void Journal::record_closed(const std::string &order_id) {
  auto it = orders_.find(order_id);
  if (it == orders_.end() || !it->second.open)
    return;
  it->second.open = false;
  append(json{{"closed", order_id}}.dump());
}

void Journal::record_alias(const std::string &cl_ord_id, const std::string &order_id) {
  aliases_[cl_ord_id] = order_id;
  append(json{{"alias", cl_ord_id}, {"of", order_id}}.dump());
}

void Journal::record_current(const std::string &cl_ord_id, const std::string &order_id) {
  auto it = orders_.find(order_id);
  if (it == orders_.end() || it->second.current_cl_ord_id == cl_ord_id)
    return;
  it->second.current_cl_ord_id = cl_ord_id;
  append(json{{"current", cl_ord_id}, {"of", order_id}}.dump());
}

OrderRecord *Journal::find(const std::string &cl_ord_id) {
  auto it = orders_.find(cl_ord_id);
  if (it == orders_.end())
    if (auto a = aliases_.find(cl_ord_id); a != aliases_.end())
      it = orders_.find(a->second);
  return it == orders_.end() ? nullptr : &it->second;
}

std::vector<OrderRecord> Journal::open_orders() const {
  std::vector<OrderRecord> out;
  for (const auto &[id, o] : orders_)
    if (o.open)
      out.push_back(o);
  return out;
}

} // namespace fix_broker
