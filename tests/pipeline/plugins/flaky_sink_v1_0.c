/* An audit sink built against the frozen v1.0 header (tests/abi-v1.0): it knows nothing of ABI
 * 1.1, so it stores synchronously and can only say it failed. It appends each event id to a
 * file, fails (TH_ERROR, "cannot write now") while a marker file exists, and refuses events of
 * type "poison" as invalid (TH_INVALID_ARGUMENT, "never storable").
 * Params: {"log": "<file>", "fail_file": "<file>"} (plain strings without escapes). */
#include <tradehost/plugin.h>

#ifdef TH_SINK_WRITABLE
#error "built against the current header; this plugin must see only ABI 1.0"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct th_instance {
  char log[512];
  char fail_file[512];
  const char *error;
};

/* The string value of "name" in a flat JSON object, copied into out. */
static int param(th_str json, const char *name, char *out, size_t size) {
  char key[64];
  const char *p, *end = json.ptr + json.len;
  size_t n;
  snprintf(key, sizeof key, "\"%s\"", name);
  for (p = json.ptr; p && p + strlen(key) <= end; ++p)
    if (memcmp(p, key, strlen(key)) == 0)
      break;
  if (!p || p + strlen(key) > end)
    return 0;
  p = memchr(p + strlen(key), '"', (size_t)(end - p - strlen(key)));
  if (!p)
    return 0;
  ++p;
  for (n = 0; p + n < end && p[n] != '"' && n + 1 < size; ++n)
    out[n] = p[n];
  out[n] = 0;
  return 1;
}

static th_instance *create(const th_host_api *api, th_host *host, th_str params, th_status *status) {
  th_instance *self = (th_instance *)calloc(1, sizeof *self);
  (void)api;
  (void)host;
  if (!self)
    return NULL;
  *status = TH_OK;
  if (!param(params, "log", self->log, sizeof self->log) ||
      !param(params, "fail_file", self->fail_file, sizeof self->fail_file)) {
    self->error = "params need \"log\" and \"fail_file\"";
    *status = TH_INVALID_ARGUMENT;
  }
  return self;
}

static void destroy(th_instance *self) {
  free(self);
}

static th_str last_error(th_instance *self) {
  th_str s;
  s.ptr = self->error;
  s.len = self->error ? strlen(self->error) : 0;
  return s;
}

static th_status on_audit_event(th_instance *self, const th_audit_event *event) {
  FILE *f;
  if (event->event_type.len == 6 && memcmp(event->event_type.ptr, "poison", 6) == 0) {
    self->error = "poison event: never storable";
    return TH_INVALID_ARGUMENT;
  }
  if (access(self->fail_file, F_OK) == 0) {
    self->error = "cannot write now: fail_file present";
    return TH_ERROR;
  }
  f = fopen(self->log, "a");
  if (!f) {
    self->error = "cannot open the log";
    return TH_ERROR;
  }
  fprintf(f, "%.*s\n", (int)event->event_id.len, event->event_id.ptr);
  fclose(f);
  return TH_OK;
}

static const th_plugin_descriptor descriptor = {
    sizeof(th_plugin_descriptor),
    TH_ABI_VERSION_MAJOR,
    TH_ABI_VERSION_MINOR,
    TH_KIND_AUDIT_SINK,
    0,
    TH_STR("flaky-sink"),
    TH_STR("1.0.0"),
    TH_STR("Test audit sink built against ABI 1.0 that fails on demand"),
    TH_STR(""),
    create,
    destroy,
    last_error,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    on_audit_event,
};

TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
