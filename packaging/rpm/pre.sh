# insite: before install; the insite user and group must exist before the config
# file (group insite) is laid down.
getent group insite >/dev/null || groupadd --system insite
getent passwd insite >/dev/null || useradd --system --gid insite --home-dir /var/lib/insite --shell /usr/sbin/nologin --comment "insite appliance" insite
exit 0
