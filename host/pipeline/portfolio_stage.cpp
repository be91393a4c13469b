#include "pipeline/portfolio_stage.hpp"

#include "observability/log.hpp"

namespace th {

void PortfolioStage::on_fill(const Fill &fill) {
  Portfolio::Outcome outcome = ctx_.portfolio.record(fill);
  if (outcome.reconcile && publish_) {
    // A duplicate's stored reconcile goes out again under the same message id: if the first
    // publication was lost (crash, failover), this is the one the trail gets; otherwise the bus
    // or the sinks drop it as a duplicate.
    Message m{Subject::executions_reconcile, std::move(*outcome.reconcile), {}};
    m.msg_id = fill.corr_id + ":reconcile:" + std::get<Reconcile>(m.payload).reconcile_id;
    publish(m);
  }
  if (outcome.kind == Portfolio::Outcome::duplicate) {
    // Applied once: plugins saw it the first time.
    log::info("fill_duplicate", {{"fill_id", fill.fill_id}, {"agent", fill.agent_id}}, fill.corr_id);
    return;
  }
  for (auto *l : listeners_)
    if (l->on_fill(fill) != TH_OK)
      log::error("plugin_on_fill_failed", {{"instance", l->context().instance_id}, {"error", l->error()}},
                 fill.corr_id);
  if (agents_)
    agents_->on_fill(fill);
}

} // namespace th
