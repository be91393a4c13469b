/* A strategy built "against a later 1.y header" that uses nothing 1.y added: its descriptor and
 * intents carry extra appended fields (so struct_size is larger than the host's), and it states
 * abi_minor 0 so older hosts accept it. */
#include <tradehost/plugin.h>

#include <stdlib.h>
#include <string.h>

/* What a later header might append. */
typedef struct descriptor_later {
  th_plugin_descriptor v1;
  th_status (*on_future_event)(th_instance *instance, const void *event);
  uint64_t future_options;
} descriptor_later;

typedef struct intent_later {
  th_order_intent v1;
  double future_number;
  th_str future_text;
} intent_later;

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
  intent_later intent;
  memset(&intent, 0, sizeof intent);
  intent.v1.struct_size = sizeof intent;
  intent.v1.corr_id = signal->corr_id;
  intent.v1.instrument = signal->instrument;
  intent.v1.side = TH_SIDE_BUY;
  intent.v1.order_type = TH_ORDER_MARKET;
  intent.v1.quantity = 7;
  intent.v1.timestamp_ns = signal->timestamp_ns;
  intent.v1.flags = TH_INTENT_HAS_MAX_SLIPPAGE | 0x80000000u; /* a flag bit this host does not know */
  intent.v1.max_slippage_bps = 12;
  intent.future_number = 42;
  return self->api->emit_order_intent(self->host, &intent.v1);
}

static th_status on_future_event(th_instance *self, const void *event) {
  (void)self;
  (void)event;
  return TH_OK;
}

static const descriptor_later descriptor = {
    {
        sizeof(descriptor_later),
        TH_ABI_VERSION_MAJOR,
        0,
        TH_KIND_STRATEGY,
        0,
        TH_STR("newer-struct"),
        TH_STR("1.5.0"),
        TH_STR("Strategy with a descriptor larger than this host's"),
        TH_STR("{\"type\":\"object\"}"),
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
    },
    on_future_event,
    0xffffffffffffffffu,
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor.v1;
}
