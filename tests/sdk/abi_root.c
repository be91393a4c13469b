/* A library whose one exported function reaches every ABI struct, so that abidiff (libabigail)
 * compares all of them, function-pointer signatures included, between two builds of it: one per
 * copy of <tradehost/plugin.h> (frozen v1.0, current, deliberately broken). */
#include <tradehost/plugin.h>

TH_PLUGIN_EXPORT void th_abi_root(th_plugin_descriptor *descriptor, th_host_api *api, th_signal *signal,
                                  th_order_intent *intent, th_fill *fill, th_reconcile *reconcile,
                                  th_audit_event *event, th_position *position, th_label *label, th_str *str);

void th_abi_root(th_plugin_descriptor *descriptor, th_host_api *api, th_signal *signal,
                 th_order_intent *intent, th_fill *fill, th_reconcile *reconcile, th_audit_event *event,
                 th_position *position, th_label *label, th_str *str) {
  (void)descriptor, (void)api, (void)signal, (void)intent, (void)fill, (void)reconcile;
  (void)event, (void)position, (void)label, (void)str;
}
