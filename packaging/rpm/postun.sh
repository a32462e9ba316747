# insite: after removal. Data and configuration are kept (rpm has no purge): delete
# /var/lib/insite and /etc/insite yourself to remove them. The insite user stays.
systemctl daemon-reload >/dev/null 2>&1 || :
exit 0
