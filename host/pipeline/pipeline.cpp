#include "pipeline/pipeline.hpp"

#include "observability/log.hpp"

namespace th {

Pipeline::Pipeline(const Deployment &deployment, const PluginRegistry &registry, StageContext ctx)
    : deployment_(deployment), registry_(registry), ctx_(ctx), agents_(ctx, risk_), execution_(ctx),
      audit_(ctx) {
  agents_.set_audit(&audit_); // intents fail closed while a sink of this process cannot write
}

Pipeline::~Pipeline() {
  if (started_)
    stop();
}

std::unique_ptr<PluginInstance> Pipeline::create(const std::string &id, const PluginRef &ref, int32_t kind,
                                                 HostServices &services, std::vector<std::string> &problems,
                                                 std::shared_ptr<PluginLibrary> library) {
  if (!library)
    library = registry_.find(ref.plugin);
  std::string where = deployment_.locate(ref.params_pointer).to_string();
  if (!library) {
    problems.push_back(where + ": " + id + ": plugin '" + ref.plugin + "' is not loaded");
  } else if (library->identity().kind != kind) {
    problems.push_back(where + ": " + id + ": plugin '" + ref.plugin + "' is a " +
                       std::string(kind_name(library->identity().kind)) + ", not a " +
                       std::string(kind_name(kind)));
  } else {
    InstanceContext context{id, library->identity().name, library->identity().version, kind};
    try {
      return PluginInstance::create(library, context, ref.params.dump(), services);
    } catch (const std::exception &e) {
      problems.push_back(where + ": " + id + ": create failed: " + e.what());
    }
  }
  log::error("instance_skipped", {{"instance", id}, {"plugin", ref.plugin}, {"reason", problems.back()}});
  return nullptr;
}

std::vector<std::string> Pipeline::build(unsigned roles) {
  roles_ = roles;
  std::vector<std::string> problems;
  if (roles & role_agent) {
    for (const auto &r : deployment_.risk)
      if (auto i = create(r.id, r.plugin, TH_KIND_RISK, agents_, problems))
        risk_.add(std::move(i));
    for (const auto &a : deployment_.agents) {
      if (!a.enabled)
        continue;
      if (auto i = create(a.id, a.strategy, TH_KIND_STRATEGY, agents_, problems))
        agents_.add_agent(std::move(i), InstrumentFilter(a.instruments));
    }
    ctx_.bus.subscribe({"mcp-signals", {Subject::signals_normalized}}, [this](const Delivery &d) {
      const auto &signal = std::get<Signal>(d.message.payload);
      if (skipping_.load(std::memory_order_acquire) && skips_agents(signal.corr_id))
        return;
      ++signals_;
      agents_.on_signal(signal, d.redelivered);
    });
    // The contract's durable for meta agents, created or checked with the others; no meta agent
    // runs in this host, so a meta-agent process binds to a consumer that already exists.
    ctx_.bus.declare_consumer({"meta-decisions", {Subject::decisions_order_intent}});
  }
  if (roles & role_exec) {
    for (const auto &e : deployment_.executors)
      if (auto i = create(e.id, e.plugin, TH_KIND_EXECUTOR, execution_, problems))
        execution_.add_executor(std::move(i));
    ctx_.bus.subscribe({"exec-intents", {Subject::signals_normalized, Subject::decisions_order_intent}},
                       [this](const Delivery &d) { execution_.handle(d); });
  }
  if (roles & (role_agent | role_exec)) {
    // The exec process owns the portfolio and publishes reconciles; an agent-only process
    // mirrors positions so strategies and risk can read them.
    portfolio_ = std::make_unique<PortfolioStage>(ctx_, (roles & role_exec) != 0,
                                                  (roles & role_agent) ? &agents_ : nullptr);
    for (auto &i : risk_.checks())
      portfolio_->add_fill_listener(i.get());
    std::string durable = (roles & role_exec) ? "portfolio" : "agent-positions";
    ctx_.bus.subscribe({durable, {Subject::executions_fill}}, [this](const Delivery &d) {
      ++reconciles_;
      portfolio_->on_fill(std::get<Fill>(d.message.payload));
    });
  }
  if (roles & role_audit) {
    for (const auto &s : deployment_.audit)
      if (auto i = create(s.id, s.plugin, TH_KIND_AUDIT_SINK, audit_, problems))
        audit_.add_sink(std::move(i));
    ctx_.bus.subscribe(
        {"audit-all",
         {Subject::signals_normalized, Subject::decisions_order_intent, Subject::decisions_rejected,
          Subject::executions_fill, Subject::executions_reconcile, Subject::audit_event}},
        [this](const Delivery &d) { audit_.handle(d); });
  }
  return problems;
}

std::vector<const PluginInstance *> Pipeline::instances() const {
  std::vector<const PluginInstance *> all;
  for (auto &i : risk_.checks())
    all.push_back(i.get());
  for (auto &i : agents_.instances())
    all.push_back(i.get());
  for (auto &i : execution_.instances())
    all.push_back(i.get());
  for (auto &i : audit_.instances())
    all.push_back(i.get());
  return all;
}

std::string Pipeline::start_agent(const AgentConfig &agent, std::shared_ptr<PluginLibrary> library) {
  if (agents_.has_agent(agent.id))
    return agent.id + ": an agent with this id is running";
  std::vector<std::string> problems;
  auto instance = create(agent.id, agent.strategy, TH_KIND_STRATEGY, agents_, problems, std::move(library));
  if (!instance)
    return problems.back();
  if (instance->start() != TH_OK)
    return agent.id + ": start failed: " + instance->error();
  agents_.add_agent(std::move(instance), InstrumentFilter(agent.instruments));
  log::info("agent_started", {{"agent", agent.id}, {"plugin", agent.strategy.plugin}});
  return "";
}

std::string Pipeline::replace_agent(const AgentConfig &agent, std::shared_ptr<PluginLibrary> library) {
  if (!agents_.has_agent(agent.id))
    return start_agent(agent, std::move(library));
  std::vector<std::string> problems;
  auto instance = create(agent.id, agent.strategy, TH_KIND_STRATEGY, agents_, problems, std::move(library));
  if (!instance)
    return problems.back();
  if (instance->start() != TH_OK)
    return agent.id + ": start failed: " + instance->error();
  std::string version = instance->context().plugin_version;
  auto old = agents_.replace_agent(agent.id, std::move(instance), InstrumentFilter(agent.instruments));
  AgentStage::retire(std::move(old));
  log::info("agent_replaced", {{"agent", agent.id}, {"plugin", agent.strategy.plugin}, {"version", version}});
  return "";
}

std::string Pipeline::stop_agent(const std::string &id) {
  auto old = agents_.remove_agent(id);
  if (!old)
    return id + ": no such agent";
  AgentStage::retire(std::move(old));
  log::info("agent_stopped", {{"agent", id}});
  return "";
}

void Pipeline::skip_agents_for(std::unordered_set<std::string> corr_ids) {
  std::lock_guard lock(skip_mutex_);
  skip_.merge(corr_ids);
  skipping_.store(!skip_.empty(), std::memory_order_release);
}

bool Pipeline::skips_agents(const std::string &corr_id) {
  std::lock_guard lock(skip_mutex_);
  if (skip_.erase(corr_id) == 0)
    return false;
  skipping_.store(!skip_.empty(), std::memory_order_release);
  return true;
}

void Pipeline::start() {
  // Sinks first and agents last, so nothing is emitted into a stage that is not started.
  auto start_all = [](const auto &list) {
    for (auto &i : list)
      if (i->start() != TH_OK)
        log::error("instance_start_failed", {{"instance", i->context().instance_id}, {"error", i->error()}});
  };
  start_all(audit_.instances());
  start_all(execution_.instances());
  start_all(risk_.checks());
  start_all(agents_.instances());
  started_ = true;
}

void Pipeline::stop() {
  if (!started_)
    return;
  started_ = false;
  auto stop_all = [](const auto &list) {
    for (auto &i : list)
      if (i->stop() != TH_OK)
        log::error("instance_stop_failed", {{"instance", i->context().instance_id}, {"error", i->error()}});
  };
  stop_all(agents_.instances());
  stop_all(risk_.checks());
  stop_all(execution_.instances());
  ctx_.bus.wait_idle(std::chrono::seconds(audit_.available() ? 30 : 2)); // what stopping executors emitted
  audit_.stop_retrying(); // a sink that still cannot write keeps the rest (JetStream redelivers it)
  stop_all(audit_.instances());
}

Pipeline::Stats Pipeline::stats() const {
  return {signals_, agents_.intents(), agents_.rejections(), execution_.fills(), reconciles_};
}

} // namespace th
