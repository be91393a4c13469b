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

CreateOutcome Pipeline::create(const std::string &id, const PluginRef &ref, const std::string &pointer,
                               int32_t kind, HostServices &services, std::shared_ptr<PluginLibrary> library) {
  InstanceSpec spec{id, &ref, kind, deployment_.locate(pointer.empty() ? ref.params_pointer : pointer)};
  where_[id] = spec.where;
  return create_instance(spec, registry_, services, std::move(library));
}

void Pipeline::set_agent_state(const std::string &id, const std::string &plugin, std::string state,
                               std::string reason) {
  std::lock_guard lock(states_mutex_);
  agent_states_[id] = {id, plugin, std::move(state), std::move(reason)};
}

void Pipeline::mark_waiting(const AgentConfig &agent) {
  set_agent_state(agent.id, agent.strategy.plugin, "waiting",
                  "plugin '" + agent.strategy.plugin + "' is not loaded; the agent starts when it arrives");
  log::warn("agent_waiting", {{"agent", agent.id}, {"plugin", agent.strategy.plugin}});
}

std::vector<Pipeline::AgentState> Pipeline::agent_states() const {
  std::lock_guard lock(states_mutex_);
  std::vector<AgentState> states;
  for (const auto &[id, state] : agent_states_)
    states.push_back(state);
  return states;
}

std::vector<ConfigError> Pipeline::build(unsigned roles) {
  roles_ = roles;
  std::vector<ConfigError> errors;
  // Mandatory: a risk check, executor or audit sink that cannot be created stops the process.
  auto mandatory = [&](const StageConfig &stage, int32_t kind, HostServices &services) {
    CreateOutcome out = create(stage.id, stage.plugin, stage.pointer, kind, services);
    if (!out.instance) {
      errors.push_back(ConfigError{where_[stage.id], out.problem});
      log::error("instance_create_failed", {{"instance", stage.id},
                                            {"plugin", stage.plugin.plugin},
                                            {"where", where_[stage.id].to_string()},
                                            {"reason", out.problem}});
    }
    return std::move(out.instance);
  };
  if (roles & role_agent) {
    for (const auto &r : deployment_.risk)
      if (auto i = mandatory(r, TH_KIND_RISK, agents_))
        risk_.add(std::move(i));
    for (const auto &a : deployment_.agents) {
      if (!a.enabled)
        continue;
      CreateOutcome out = create(a.id, a.strategy, a.pointer, TH_KIND_STRATEGY, agents_);
      if (out.instance) {
        agents_.add_agent(std::move(out.instance), InstrumentFilter(a.instruments));
        set_agent_state(a.id, a.strategy.plugin, "running", "");
      } else if (out.plugin_missing) {
        mark_waiting(a);
      } else {
        set_agent_state(a.id, a.strategy.plugin, "failed", out.problem);
        log::error("agent_create_failed", {{"agent", a.id},
                                           {"plugin", a.strategy.plugin},
                                           {"where", where_[a.id].to_string()},
                                           {"reason", out.problem}});
      }
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
      if (auto i = mandatory(e, TH_KIND_EXECUTOR, execution_))
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
      if (auto i = mandatory(s, TH_KIND_AUDIT_SINK, audit_))
        audit_.add_sink(std::move(i));
    ctx_.bus.subscribe(
        {"audit-all",
         {Subject::signals_normalized, Subject::decisions_order_intent, Subject::decisions_rejected,
          Subject::executions_fill, Subject::executions_reconcile, Subject::audit_event}},
        [this](const Delivery &d) { audit_.handle(d); });
  }
  return errors;
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
  CreateOutcome out =
      create(agent.id, agent.strategy, agent.pointer, TH_KIND_STRATEGY, agents_, std::move(library));
  std::string problem = out.problem;
  if (out.instance && out.instance->start() != TH_OK)
    problem = agent.id + ": start failed: " + out.instance->error();
  if (!problem.empty()) {
    set_agent_state(agent.id, agent.strategy.plugin, "failed", problem);
    return problem;
  }
  agents_.add_agent(std::move(out.instance), InstrumentFilter(agent.instruments));
  set_agent_state(agent.id, agent.strategy.plugin, "running", "");
  log::info("agent_started", {{"agent", agent.id}, {"plugin", agent.strategy.plugin}});
  return "";
}

std::string Pipeline::replace_agent(const AgentConfig &agent, std::shared_ptr<PluginLibrary> library) {
  if (!agents_.has_agent(agent.id))
    return start_agent(agent, std::move(library));
  CreateOutcome out =
      create(agent.id, agent.strategy, agent.pointer, TH_KIND_STRATEGY, agents_, std::move(library));
  if (!out.instance)
    return out.problem;
  if (out.instance->start() != TH_OK)
    return agent.id + ": start failed: " + out.instance->error();
  std::string version = out.instance->context().plugin_version;
  auto old = agents_.replace_agent(agent.id, std::move(out.instance), InstrumentFilter(agent.instruments));
  AgentStage::retire(std::move(old));
  set_agent_state(agent.id, agent.strategy.plugin, "running", "");
  log::info("agent_replaced", {{"agent", agent.id}, {"plugin", agent.strategy.plugin}, {"version", version}});
  return "";
}

std::string Pipeline::stop_agent(const std::string &id) {
  auto old = agents_.remove_agent(id);
  if (!old)
    return id + ": no such agent";
  AgentStage::retire(std::move(old));
  {
    std::lock_guard lock(states_mutex_);
    agent_states_.erase(id);
  }
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

std::vector<ConfigError> Pipeline::start() {
  // Sinks first and agents last, so nothing is emitted into a stage that is not started.
  std::vector<ConfigError> errors;
  std::vector<PluginInstance *> running;
  auto start_all = [&](const auto &list, const char *role) {
    for (auto &i : list)
      if (i->start() == TH_OK) {
        running.push_back(i.get());
      } else {
        const std::string &id = i->context().instance_id;
        errors.push_back(ConfigError{where_[id], std::string(role) + " '" + id + "' (plugin " +
                                                     i->context().plugin_name +
                                                     "): start failed: " + i->error()});
        log::error("instance_start_failed",
                   {{"instance", id}, {"where", where_[id].to_string()}, {"error", i->error()}});
      }
  };
  start_all(audit_.instances(), "audit sink");
  start_all(execution_.instances(), "executor");
  start_all(risk_.checks(), "risk check");
  if (!errors.empty()) { // fail closed: what started stops again, no agent runs
    for (auto it = running.rbegin(); it != running.rend(); ++it)
      (*it)->stop();
    return errors;
  }
  started_ = true;
  for (auto &i : agents_.instances()) {
    if (i->start() == TH_OK)
      continue;
    const std::string id = i->context().instance_id, plugin = i->context().plugin_name;
    std::string problem = id + ": start failed: " + i->error();
    log::error("agent_start_failed", {{"agent", id}, {"where", where_[id].to_string()}, {"reason", problem}});
    AgentStage::retire(agents_.remove_agent(id));
    set_agent_state(id, plugin, "failed", problem);
  }
  return errors;
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
