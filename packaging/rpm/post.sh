# insite: after install ($1 = 1) or upgrade ($1 = 2). Creates the service user and the
# state directory, then enables and starts the service, or restarts it on upgrade
# (it migrates the database as it starts).
systemd-sysusers /usr/lib/sysusers.d/insite.conf || :
systemd-tmpfiles --create /usr/lib/tmpfiles.d/insite.conf || :
chown root:insite /etc/insite/insite.toml && chmod 0640 /etc/insite/insite.toml
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
    systemctl enable --now insite.service >/dev/null 2>&1 || :
    cat <<'MSG'

insite is installed and its service started (https://127.0.0.1:8443 by default;
the master key and a self-signed TLS certificate are created on first start in
/var/lib/insite). Configuration: /etc/insite/insite.toml (then: systemctl reload insite).

Next step, create the first organization and its owner:
    sudo insite admin bootstrap --org "Your company" --email you@example.com
It prints a one-time link: open it, set the owner's password, then sign in to the
console at https://<this host>:8443/console/.

MSG
else
    systemctl try-restart insite.service >/dev/null 2>&1 || :
fi
exit 0
