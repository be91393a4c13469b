#include "pipeline/portfolio_stage.hpp"

#include "observability/log.hpp"

namespace th {

void PortfolioStage::on_fill(const Fill &fill) {
  if (auto reconcile = ctx_.portfolio.apply(fill); reconcile && publish_) {
    Message m{Subject::executions_reconcile, std::move(*reconcile), {}};
    m.msg_id = fill.corr_id + ":reconcile:" + std::get<Reconcile>(m.payload).reconcile_id;
    publish(m);
  }
  for (auto *l : listeners_)
    if (l->on_fill(fill) != TH_OK)
      log::error("plugin_on_fill_failed", {{"instance", l->context().instance_id}, {"error", l->error()}},
                 fill.corr_id);
  if (agents_)
    agents_->on_fill(fill);
}

} // namespace th
