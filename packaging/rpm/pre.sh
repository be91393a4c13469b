# tradehost %pre: the service user exists before files owned by it are installed.
getent group tradehost >/dev/null || groupadd -r tradehost
getent passwd tradehost >/dev/null ||
  useradd -r -g tradehost -d /var/lib/tradehost -s /sbin/nologin -c "tradehost service" tradehost
exit 0
