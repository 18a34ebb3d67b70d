"""Disposable Debian lab hosts: systemd-nspawn machines with systemd as PID 1, reached over SSH."""
