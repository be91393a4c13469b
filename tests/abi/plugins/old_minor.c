/* A strategy built "against an older 1.x header": its descriptor ends before on_fill and the
 * intents it emits end before the risk_params fields. The bytes past each struct_size are
 * deliberately filled with values the host must NOT read (on_fill, risk params, extra_json),
 * so a host that ignores struct_size fails the test. */
#include <tradehost/plugin.h>

#include <stdlib.h>
#include <string.h>

struct th_instance {
  const th_host_api *api;
  th_host *host;
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
  th_order_intent intent;
  static const char garbage[] = "{\"not\":\"sent\"}";
  memset(&intent, 0, sizeof intent);
  intent.struct_size = (uint32_t)offsetof(th_order_intent, max_position); /* the older layout */
  intent.corr_id = signal->corr_id;
  intent.instrument = signal->instrument;
  intent.side = TH_SIDE_SELL;
  intent.order_type = TH_ORDER_MARKET;
  intent.quantity = 3;
  intent.timestamp_ns = signal->timestamp_ns;
  /* Past struct_size: must be ignored by the host. */
  intent.flags = TH_INTENT_HAS_MAX_POSITION | TH_INTENT_HAS_STOP_LOSS;
  intent.max_position = 999;
  intent.stop_loss = 0.5;
  intent.extra_json.ptr = garbage;
  intent.extra_json.len = sizeof garbage - 1;
  return self->api->emit_order_intent(self->host, &intent);
}

/* Would prove the host read past struct_size if it were ever called. */
static th_status on_fill_must_not_be_seen(th_instance *self, const th_fill *fill) {
  (void)self;
  (void)fill;
  abort();
}

static const th_plugin_descriptor descriptor = {
    (uint32_t)offsetof(th_plugin_descriptor, on_fill), /* an older, smaller descriptor */
    TH_ABI_VERSION_MAJOR,
    0,
    TH_KIND_STRATEGY,
    0,
    TH_STR("old-minor"),
    TH_STR("0.9.0"),
    TH_STR("Strategy with a pre-1.x-latest descriptor"),
    TH_STR(""),
    create,
    destroy,
    last_error,
    NULL,
    NULL,
    on_signal,
    NULL,
    NULL,
    on_fill_must_not_be_seen, /* past struct_size */
    NULL,
    NULL, /* cancel_all (ABI 1.1) */
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
