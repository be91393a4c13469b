/* threshold: a strategy plugin in plain C99. Buys `quantity` on a buy signal and sells it on a
 * sell signal when the signal's strength reaches `min_strength`. Build: see CMakeLists.txt. */
#include <tradehost/plugin.h>

#include <stdlib.h>
#include <string.h>

struct th_instance {
  const th_host_api *api;
  th_host *host;
  double quantity, min_strength;
};

/* The params were validated against the schema below; read one number, or keep the default. */
static double param(th_str json, const char *key, double fallback) {
  char text[512] = {0};
  const char *at;
  memcpy(text, json.ptr ? json.ptr : "", json.len < sizeof text - 1 ? json.len : sizeof text - 1);
  at = strstr(text, key);
  at = at ? strchr(at + strlen(key), ':') : NULL;
  return at ? strtod(at + 1, NULL) : fallback;
}

static th_instance *create(const th_host_api *api, th_host *host, th_str params, th_status *status) {
  th_instance *self = calloc(1, sizeof *self);
  if (!self)
    return NULL;
  self->api = api;
  self->host = host;
  self->quantity = param(params, "\"quantity\"", 10);
  self->min_strength = param(params, "\"min_strength\"", 0.5);
  *status = TH_OK;
  return self;
}

static void destroy(th_instance *self) {
  free(self);
}

static th_str last_error(th_instance *self) {
  (void)self; /* nothing fails after create() */
  return (th_str){NULL, 0};
}

static th_status on_signal(th_instance *self, const th_signal *signal) {
  th_order_intent intent = {0};
  if (signal->strength < self->min_strength ||
      (signal->action != TH_SIGNAL_BUY && signal->action != TH_SIGNAL_SELL))
    return TH_OK;
  intent.struct_size = sizeof intent; /* always: the host reads only what the plugin wrote */
  intent.corr_id = signal->corr_id;   /* borrowed views may be handed straight back */
  intent.instrument = signal->instrument;
  intent.side = signal->action == TH_SIGNAL_BUY ? TH_SIDE_BUY : TH_SIDE_SELL;
  intent.order_type = TH_ORDER_MARKET;
  intent.quantity = self->quantity;
  intent.timestamp_ns = self->api->now_ns(self->host);
  return self->api->emit_order_intent(self->host, &intent); /* the host copies it */
}

static const th_plugin_descriptor descriptor = {
    .struct_size = sizeof(th_plugin_descriptor),
    .abi_major = TH_ABI_VERSION_MAJOR,
    .abi_minor = TH_ABI_VERSION_MINOR,
    .kind = TH_KIND_STRATEGY,
    .name = TH_STR("example-threshold"),
    .version = TH_STR("1.0.0"),
    .description = TH_STR("Trades a fixed quantity on buy/sell signals at or above a strength"),
    .params_schema = TH_STR("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
                            "\"quantity\":{\"type\":\"number\",\"minimum\":0.001},"
                            "\"min_strength\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1}}}"),
    .create = create,
    .destroy = destroy,
    .last_error = last_error,
    .on_signal = on_signal,
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
