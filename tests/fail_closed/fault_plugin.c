/* A plugin that fails on demand, for the fail-closed tests (issue 13 findings 1-3). One source,
 * built once per kind (KIND, NAME). Params (all optional; the plugin has no params schema):
 *   "fail_create": "why"   create() fails with that message
 *   "fail_start":  "why"   start() fails with that message
 *   "check_order": "approve" (default) | "reject" | "error"   risk: what check_order returns
 * Otherwise it does nothing: a strategy emits nothing, an executor fills nothing, a sink
 * stores nothing (and says TH_OK). */
#include <tradehost/plugin.h>

#include <stdlib.h>
#include <string.h>

struct th_instance {
  const th_host_api *api;
  th_host *host;
  char error[256];
  char fail_start[200];
  char check_order[16];
};

/* The string value of "key" in a flat JSON object (no escapes needed by the tests). */
static int string_param(th_str params, const char *key, char *out, size_t size) {
  char pattern[64];
  const char *end = params.ptr + params.len;
  const char *p = params.ptr;
  size_t n = strlen(key);
  if (n + 3 > sizeof pattern || !params.ptr)
    return 0;
  pattern[0] = '"';
  memcpy(pattern + 1, key, n);
  pattern[n + 1] = '"';
  pattern[n + 2] = '\0';
  n += 2;
  for (; p + n <= end; ++p) {
    if (memcmp(p, pattern, n) != 0)
      continue;
    p += n;
    while (p < end && (*p == ' ' || *p == ':'))
      ++p;
    if (p >= end || *p != '"')
      return 0;
    ++p;
    {
      size_t i = 0;
      while (p < end && *p != '"' && i + 1 < size)
        out[i++] = *p++;
      out[i] = '\0';
    }
    return 1;
  }
  return 0;
}

static th_str str(const char *text) {
  th_str s;
  s.ptr = text;
  s.len = strlen(text);
  return s;
}

static th_instance *create(const th_host_api *api, th_host *host, th_str params, th_status *status) {
  th_instance *self = (th_instance *)calloc(1, sizeof *self);
  char why[200];
  if (!self)
    return NULL;
  self->api = api;
  self->host = host;
  *status = TH_OK;
  strcpy(self->check_order, "approve");
  string_param(params, "check_order", self->check_order, sizeof self->check_order);
  string_param(params, "fail_start", self->fail_start, sizeof self->fail_start);
  if (string_param(params, "fail_create", why, sizeof why)) {
    strcpy(self->error, why);
    *status = TH_ERROR;
  }
  return self;
}

static void destroy(th_instance *self) {
  free(self);
}

static th_str last_error(th_instance *self) {
  return str(self->error);
}

static th_status start(th_instance *self) {
  if (self->fail_start[0]) {
    strcpy(self->error, self->fail_start);
    return TH_ERROR;
  }
  return TH_OK;
}

static th_status stop(th_instance *self) {
  (void)self;
  return TH_OK;
}

static th_status on_signal(th_instance *self, const th_signal *signal) {
  (void)self;
  (void)signal;
  return TH_OK;
}

static th_status check_order(th_instance *self, const th_order_intent *intent) {
  (void)intent;
  if (strcmp(self->check_order, "reject") == 0) {
    self->api->reject_order(self->host, str("fault_reject"), str("rejected on demand"));
    return TH_REJECTED;
  }
  if (strcmp(self->check_order, "error") == 0) {
    strcpy(self->error, "limits table unreadable (fault plugin)");
    return TH_ERROR;
  }
  return TH_OK;
}

static th_status on_order_intent(th_instance *self, const th_order_intent *intent) {
  (void)self;
  (void)intent;
  return TH_OK;
}

static th_status on_audit_event(th_instance *self, const th_audit_event *event) {
  (void)self;
  (void)event;
  return TH_OK;
}

static const th_plugin_descriptor descriptor = {
    sizeof(th_plugin_descriptor),
    TH_ABI_VERSION_MAJOR,
    0,
    KIND,
    0,
    TH_STR(NAME),
    TH_STR("1.0.0"),
    TH_STR("fails on demand (fail-closed tests)"),
    TH_STR(""),
    create,
    destroy,
    last_error,
    start,
    stop,
    on_signal,
    check_order,
    on_order_intent,
    NULL,
    on_audit_event,
    NULL, /* cancel_all */
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
