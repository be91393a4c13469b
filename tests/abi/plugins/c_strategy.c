/* A strategy plugin in plain C99 (built with -std=c99 -Wpedantic -Werror): buys on "buy",
 * sells on "sell", ignores the rest. Params: {"quantity": number > 0}. Exercises the whole
 * surface a C author touches: descriptor, instance state, last_error, host services. */
#include <tradehost/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct th_instance {
  const th_host_api *api;
  th_host *host;
  double quantity;
  long signals;
  char error[128];
};

static void set_error(th_instance *self, const char *message) {
  strncpy(self->error, message, sizeof self->error - 1);
  self->error[sizeof self->error - 1] = '\0';
}

/* Finds "quantity": <number> in the params text; good enough for a test plugin. */
static int read_quantity(th_str params, double *out) {
  char text[256];
  const char *key;
  size_t n = params.len < sizeof text - 1 ? params.len : sizeof text - 1;
  if (n)
    memcpy(text, params.ptr, n);
  text[n] = '\0';
  key = strstr(text, "\"quantity\"");
  if (!key)
    return 0;
  key = strchr(key, ':');
  if (!key)
    return 0;
  *out = strtod(key + 1, NULL);
  return 1;
}

static th_instance *create(const th_host_api *api, th_host *host, th_str params, th_status *status) {
  th_instance *self = (th_instance *)calloc(1, sizeof *self);
  if (!self) {
    *status = TH_ERROR;
    return NULL;
  }
  self->api = api;
  self->host = host;
  self->quantity = 1.0;
  read_quantity(params, &self->quantity);
  if (self->quantity <= 0) {
    snprintf(self->error, sizeof self->error, "quantity must be positive, got %g", self->quantity);
    *status = TH_INVALID_ARGUMENT;
    return self;
  }
  *status = TH_OK;
  return self;
}

static void destroy(th_instance *self) {
  free(self);
}

static th_str last_error(th_instance *self) {
  th_str s;
  s.ptr = self->error;
  s.len = strlen(self->error);
  return s;
}

static th_status on_signal(th_instance *self, const th_signal *signal) {
  th_order_intent intent;
  static const char strategy[] = "c-strategy";
  self->signals++;
  if (signal->instrument.len == 4 && memcmp(signal->instrument.ptr, "FAIL", 4) == 0) {
    set_error(self, "refusing instrument FAIL");
    return TH_ERROR;
  }
  if (signal->action != TH_SIGNAL_BUY && signal->action != TH_SIGNAL_SELL)
    return TH_OK;

  memset(&intent, 0, sizeof intent);
  intent.struct_size = sizeof intent;
  intent.corr_id = signal->corr_id;
  intent.instrument = signal->instrument;
  intent.side = signal->action == TH_SIGNAL_BUY ? TH_SIDE_BUY : TH_SIDE_SELL;
  intent.quantity = self->quantity;
  intent.timestamp_ns = self->api->now_ns(self->host);
  intent.strategy.ptr = strategy;
  intent.strategy.len = sizeof strategy - 1;
  if (signal->flags & TH_SIGNAL_HAS_PRICE) {
    intent.order_type = TH_ORDER_LIMIT;
    intent.flags |= TH_INTENT_HAS_PRICE_LIMIT;
    intent.price_limit = signal->price;
  } else {
    intent.order_type = TH_ORDER_MARKET;
  }
  intent.flags |= TH_INTENT_HAS_STOP_LOSS;
  intent.stop_loss = 0.02;
  {
    th_str message = TH_STR("emitting intent");
    self->api->log(self->host, TH_LOG_DEBUG, signal->corr_id, message);
  }
  return self->api->emit_order_intent(self->host, &intent);
}

static const th_plugin_descriptor descriptor = {
    sizeof(th_plugin_descriptor),
    TH_ABI_VERSION_MAJOR,
    TH_ABI_VERSION_MINOR,
    TH_KIND_STRATEGY,
    0,
    TH_STR("c-strategy"),
    TH_STR("1.0.0"),
    TH_STR("Test strategy in C99: buy on buy, sell on sell"),
    TH_STR("{\"type\":\"object\",\"properties\":{\"quantity\":{\"type\":\"number\"}},"
           "\"additionalProperties\":false}"),
    create,
    destroy,
    last_error,
    NULL, /* start */
    NULL, /* stop */
    on_signal,
    NULL, /* check_order */
    NULL, /* on_order_intent */
    NULL, /* on_fill */
    NULL, /* on_audit_event */
    NULL, /* cancel_all (ABI 1.1) */
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
