# tradehost %postun: after an upgrade restart a running service; on erase drop the generated
# secrets (rpm keeps edited config files as .rpmsave and leaves /var/lib/tradehost).
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || :
  if [ "$1" -ge 1 ]; then systemctl try-restart tradehost.service >/dev/null 2>&1 || :; fi
fi
if [ "$1" -eq 0 ]; then
  rm -f /etc/tradehost/secrets.env
fi
exit 0
