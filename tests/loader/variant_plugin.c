/* One source, many broken (and one good) plugins for the loader matrix. Each build defines one
 * VARIANT_* macro; everything else is a valid plugin of kind KIND. */
#include <tradehost/plugin.h>

#include <stdlib.h>
#include <string.h>

/* Each variant leaves some callbacks out of its descriptor. */
#define MAYBE_UNUSED __attribute__((unused))

struct th_instance {
  char error[64];
};

MAYBE_UNUSED static th_instance *create(const th_host_api *api, th_host *host, th_str params,
                                        th_status *status) {
  th_instance *self = (th_instance *)calloc(1, sizeof *self);
  (void)api;
  (void)host;
  (void)params;
  if (!self)
    return NULL;
  *status = TH_OK;
#if defined(VARIANT_CREATE_FAILS)
  strcpy(self->error, "cannot start: no market data feed configured");
  *status = TH_ERROR;
#endif
  return self;
}

MAYBE_UNUSED static void destroy(th_instance *self) {
  free(self);
}

MAYBE_UNUSED static th_str last_error(th_instance *self) {
  th_str s;
  s.ptr = self->error;
  s.len = strlen(self->error);
  return s;
}

MAYBE_UNUSED static th_status on_signal(th_instance *self, const th_signal *signal) {
  (void)self;
  (void)signal;
  return TH_OK;
}

/* Rejects everything without saying why: the host supplies the default rule and reason. */
MAYBE_UNUSED static th_status check_order(th_instance *self, const th_order_intent *intent) {
  (void)self;
  (void)intent;
  return TH_REJECTED;
}

MAYBE_UNUSED static th_status on_order_intent(th_instance *self, const th_order_intent *intent) {
  (void)self;
  (void)intent;
  return TH_OK;
}

MAYBE_UNUSED static th_status on_audit_event(th_instance *self, const th_audit_event *event) {
  (void)self;
  (void)event;
  return TH_OK;
}

#if defined(VARIANT_UNDEFINED_SYMBOL)
/* Never defined anywhere: RTLD_NOW must refuse the library at load. */
extern int tradehost_test_symbol_that_does_not_exist(void);
int variant_uses_missing(void);
int variant_uses_missing(void) {
  return tradehost_test_symbol_that_does_not_exist();
}
#endif

#ifndef KIND
#define KIND TH_KIND_STRATEGY
#endif
#ifndef NAME
#define NAME "variant"
#endif
#ifndef VERSION
#define VERSION "1.0.0"
#endif
#ifndef SCHEMA
#define SCHEMA                                                                                               \
  "{\"type\":\"object\",\"properties\":{\"size\":{\"type\":\"integer\",\"minimum\":1}},\"required\":["       \
  "\"size\"]}"
#endif
#ifndef STRUCT_SIZE
#define STRUCT_SIZE sizeof(th_plugin_descriptor)
#endif

#if defined(VARIANT_BAD_NAME)
#undef NAME
#define NAME "Bad Name"
#elif defined(VARIANT_EMPTY_NAME)
#undef NAME
#define NAME ""
#elif defined(VARIANT_BAD_VERSION)
#undef VERSION
#define VERSION "1.0"
#elif defined(VARIANT_SCHEMA_NOT_JSON)
#undef SCHEMA
#define SCHEMA "{\"type\": \"object\""
#elif defined(VARIANT_SCHEMA_NOT_SCHEMA)
#undef SCHEMA
#define SCHEMA "{\"type\": 12}"
#elif defined(VARIANT_TINY_STRUCT)
#undef STRUCT_SIZE
#define STRUCT_SIZE offsetof(th_plugin_descriptor, create)
#elif defined(VARIANT_GARBAGE_STRUCT)
#undef STRUCT_SIZE
#define STRUCT_SIZE 3
#endif

static const th_plugin_descriptor descriptor = {
    (uint32_t)(STRUCT_SIZE),
    TH_ABI_VERSION_MAJOR,
    TH_ABI_VERSION_MINOR,
    KIND,
    0,
    TH_STR(NAME),
    TH_STR(VERSION),
    TH_STR("loader matrix variant"),
    TH_STR(SCHEMA),
#if defined(VARIANT_NO_CREATE)
    NULL,
#else
    create,
#endif
#if defined(VARIANT_NO_DESTROY)
    NULL,
#else
    destroy,
#endif
#if defined(VARIANT_NO_LAST_ERROR)
    NULL,
#else
    last_error,
#endif
    NULL,
    NULL,
#if defined(VARIANT_NO_KIND_CALLBACK)
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
#else
    on_signal,
    check_order,
    on_order_intent,
    NULL,
    on_audit_event,
#endif
    NULL, /* cancel_all (ABI 1.1) */
};

#if defined(VARIANT_NO_ENTRY)
/* Exported, but not the entry symbol. */
TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry_v0(void) {
  return &descriptor;
}
#elif defined(VARIANT_ENTRY_NULL)
TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  (void)descriptor;
  return NULL;
}
#else
TH_PLUGIN_EXPORT const th_plugin_descriptor *tradehost_plugin_entry(void) {
  return &descriptor;
}
#endif
