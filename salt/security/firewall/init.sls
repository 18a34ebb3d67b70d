{#- security.firewall: a minimal nftables ruleset: input dropped but for loopback, replies, ICMP
    and the open TCP ports (the SSH ports of security:ssh:ports, then security:firewall:tcp_ports),
    forwarding dropped, output open. The file is checked with nft -c before it replaces the old
    one, and loaded by reloading nftables.service (nft -f: one transaction, so established SSH
    sessions carry on). It includes security.ssh and changes only after sshd's ports are in
    place: a failed SSH change leaves the firewall as it was, never open on ports sshd is not on
    and closed on the ones it is. -#}
{%- from "security/firewall/map.jinja" import firewall with context %}
{%- from "security/ssh/map.jinja" import ssh with context %}
{%- from "core/libskip.jinja" import skip with context %}

{%- if not firewall.enabled %}
{{ skip("security-firewall-disabled",
        "security:firewall:enabled is false: nftables is left as it is") }}
{%- else %}
include:
  - security.ssh

security-firewall-packages-installed:
  pkg.installed:
    - pkgs: {{ firewall.packages | json }}
    - aggregate: True

security-firewall-ruleset-file:
  file.managed:
    - name: {{ firewall.conf_file }}
    - source: salt://{{ tpldir }}/files/nftables.conf.jinja
    - template: jinja
    - context:
        ssh_ports: {{ ssh.ports | unique | list | json }}
        tcp_ports: {{ firewall.tcp_ports | unique | list | json }}
    - user: root
    - group: root
    - mode: '0755'
    - check_cmd: /usr/sbin/nft -c -f
    - require:
      - pkg: security-firewall-packages-installed
      - sshd_config: security-ssh-dropin-managed

# reload: nftables.service's ExecReload is nft -f of the whole file, atomic; a restart would
# run ExecStop (flush ruleset) first.
security-firewall-ruleset-loaded:
  service.running:
    - name: {{ firewall.service }}
    - enable: True
    - reload: True
    - watch:
      - file: security-firewall-ruleset-file
{%- endif %}
