# insite: before removal ($1 = 0) or before the old files of an upgrade go ($1 = 1).
if [ "$1" -eq 0 ]; then
    systemctl disable --now insite.service >/dev/null 2>&1 || :
fi
exit 0
