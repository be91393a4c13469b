/* The strategy the ABI benchmark calls: the same minimal work as direct_strategy.cpp (count
 * buys, sum strength). BENCH_EMITTING also emits one order intent per signal through the host. */
#include <tradehost/plugin.h>

#include <stdlib.h>
#include <string.h>

struct th_instance {
  const th_host_api *api;
  th_host *host;
  long buys;
  double strength;
};

static th_instance *create(const th_host_api *api, th_host *host, th_str params, th_status *status) {
  th_instance *self = (th_instance *)calloc(1, sizeof *self);
  (void)params;
  if (!self)
    return NULL;
  self->api = api;
  self->host = host;
  *status = TH_OK;
  return self;
}

static void destroy(th_instance *self) {
  free(self);
}

static th_str last_error(th_instance *self) {
  th_str none = {NULL, 0};
  (void)self;
  return none;
}

static th_status on_signal(th_instance *self, const th_signal *signal) {
  if (signal->action == TH_SIGNAL_BUY)
    self->buys++;
  self->strength += signal->strength;
#if defined(BENCH_EMITTING)
  {
    th_order_intent intent;
    memset(&intent, 0, sizeof intent);
    intent.struct_size = sizeof intent;
    intent.corr_id = signal->corr_id;
    intent.instrument = signal->instrument;
    intent.side = TH_SIDE_BUY;
    intent.order_type = TH_ORDER_MARKET;
    intent.quantity = 1;
    intent.timestamp_ns = signal->timestamp_ns;
    return self->api->emit_order_intent(self->host, &intent);
  }
#else
  return TH_OK;
#endif
}

#if defined(BENCH_THREAD_SAFE)
#define FLAGS TH_PLUGIN_FLAG_THREAD_SAFE
#else
#define FLAGS 0
#endif

static const th_plugin_descriptor descriptor = {
    sizeof(th_plugin_descriptor),
    TH_ABI_VERSION_MAJOR,
    TH_ABI_VERSION_MINOR,
    TH_KIND_STRATEGY,
    FLAGS,
    TH_STR("bench-strategy"),
    TH_STR("1.0.0"),
    TH_STR("ABI benchmark strategy"),
    TH_STR(""),
    create,
    destroy,
    last_error,
    NULL,
    NULL,
    on_signal,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL, /* cancel_all (ABI 1.1) */
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
