/*
 * Transient domains for the standalone guest kernel (virt_domain.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/esc.h"
#include "util/log.h"
#include "virt/virt_conn.h"
#include "virt/virt_domain.h"

int virt_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > VIRT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return 0;
	}
	return 1;
}

/* Append `s` to buf at *off with XML's five specials escaped; -ENAMETOOLONG
 * when it does not fit. */
static int put_xml_text(char *buf, size_t len, size_t *off, const char *s)
{
	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '\'': rep = "&apos;"; break;
		case '"': rep = "&quot;"; break;
		}
		size_t n = rep ? strlen(rep) : 1;
		if (*off + n >= len)
			return -ENAMETOOLONG;
		memcpy(buf + *off, rep ? rep : s, n);
		*off += n;
	}
	buf[*off] = '\0';
	return 0;
}

/* Append printf output; -ENAMETOOLONG when it does not fit. */
static int __attribute__((format(printf, 4, 5))) put_fmt(char *buf, size_t len, size_t *off,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		return -ENAMETOOLONG;
	*off += (size_t)n;
	return 0;
}

int virt_domain_xml(const struct virt_domain_cfg *cfg, char *buf, size_t len)
{
	size_t off = 0;
	int ret;

	if (!virt_name_ok(cfg->name) || !cfg->kernel || cfg->kernel[0] != '/' || !cfg->cmdline ||
	    cfg->mem_mib == 0 ||
	    (cfg->ring_entries && (cfg->ring_entries & (cfg->ring_entries - 1))) ||
	    (cfg->ring_entries && cfg->tcg))
		return -EINVAL;
	if (len == 0)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	if ((ret = put_fmt(buf, len, &off,
			   "<domain type='%s'>\n"
			   "  <name>%s</name>\n"
			   "  <memory unit='MiB'>%llu</memory>\n"
			   "  <vcpu>1</vcpu>\n"
			   "  <os>\n"
			   "    <type arch='x86_64' machine='pc'>hvm</type>\n"
			   "    <kernel>",
			   cfg->tcg ? "qemu" : "kvm", cfg->name,
			   (unsigned long long)cfg->mem_mib)) ||
	    (ret = put_xml_text(buf, len, &off, cfg->kernel)) ||
	    (ret = put_fmt(buf, len, &off, "</kernel>\n    <cmdline>")) ||
	    (ret = put_xml_text(buf, len, &off, cfg->cmdline)) ||
	    (ret = put_fmt(buf, len, &off, "</cmdline>\n  </os>\n")))
		return ret;
	if (cfg->ring_entries &&
	    (ret = put_fmt(buf, len, &off,
			   "  <features><kvm><dirty-ring state='on' size='%u'/></kvm></features>\n",
			   cfg->ring_entries)))
		return ret;
	return put_fmt(buf, len, &off,
		       "  <cpu mode='custom' match='exact' check='none'>\n"
		       "    <model fallback='allow'>qemu64</model>\n"
		       "  </cpu>\n"
		       "  <on_poweroff>destroy</on_poweroff>\n"
		       "  <on_reboot>destroy</on_reboot>\n"
		       "  <on_crash>destroy</on_crash>\n"
		       "  <devices>\n"
		       "    <serial type='pty'><target port='0'/></serial>\n"
		       "    <console type='pty'><target type='serial' port='0'/></console>\n"
		       "    <memballoon model='none'/>\n"
		       "  </devices>\n"
		       "</domain>\n");
}

virDomainPtr virt_domain_start_paused(virConnectPtr c, const struct virt_domain_cfg *cfg, int keep)
{
	char xml[8192];
	int ret = virt_domain_xml(cfg, xml, sizeof(xml));
	if (ret) {
		log_err("domain %s: %s", cfg->name,
			ret == -EINVAL ? "bad parameters" : "the kernel path is too long");
		return NULL;
	}
	virDomainPtr d = virDomainCreateXML(
	    c, xml, VIR_DOMAIN_START_PAUSED | (keep ? 0 : VIR_DOMAIN_START_AUTODESTROY));
	if (!d)
		log_err("starting domain %s: %s", cfg->name, virt_err());
	return d;
}

int virt_host_kvm(virConnectPtr c)
{
	char *caps = virConnectGetDomainCapabilities(c, NULL, "x86_64", "pc", "kvm", 0);
	if (caps) {
		free(caps);
		return 1;
	}
	/* libvirt says "not supported on this host" in more than one way; the
	 * emulator's capabilities tell a host without KVM from a libvirtd that
	 * cannot answer at all. */
	char why[256];
	snprintf(why, sizeof(why), "%s", virt_err());
	caps = virConnectGetDomainCapabilities(c, NULL, "x86_64", "pc", "qemu", 0);
	if (caps) {
		free(caps);
		return 0;
	}
	log_err("reading libvirtd's domain capabilities: %s", why);
	return -EIO;
}

void virt_log_no_kvm(virConnectPtr c, const char *why)
{
	char *uri = virConnectGetURI(c);
	log_err("libvirtd at %s offers no KVM (its host has no usable /dev/kvm): %s",
		uri ? uri : "libvirt", why);
	free(uri);
}

int virt_domain_kvm(virDomainPtr d)
{
	char *xml = virDomainGetXMLDesc(d, 0);
	if (!xml)
		return virt_err_code() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO;
	/* The root element's type, as libvirt writes it back. */
	const char *p = strstr(xml, "<domain");
	int kvm = p && (!strncmp(p, "<domain type='kvm'", 18) ||
			!strncmp(p, "<domain type=\"kvm\"", 18));
	free(xml);
	return kvm;
}

int virt_domain_destroy(virDomainPtr d)
{
	int ret = 0;
	if (!d)
		return 0;
	const char *name = virDomainGetName(d);
	if (virDomainDestroy(d) < 0 && virt_err_code() != VIR_ERR_OPERATION_INVALID &&
	    virt_err_code() != VIR_ERR_NO_DOMAIN) {
		log_err("destroying domain %s: %s", name, virt_err());
		ret = -EIO;
	}
	virDomainFree(d);
	return ret;
}

virDomainPtr virt_domain_lookup(virConnectPtr c, const char *name, int *missing)
{
	virDomainPtr d = virDomainLookupByName(c, name);
	if (!d && virt_err_code() == VIR_ERR_NO_DOMAIN)
		d = virDomainLookupByUUIDString(c, name);
	if (!d) {
		char *end;
		long id = strtol(name, &end, 10);
		if (*name && !*end && id >= 0 && id <= 0x7fffffff)
			d = virDomainLookupByID(c, (int)id);
	}
	*missing = !d && (virt_err_code() == VIR_ERR_NO_DOMAIN ||
			  virt_err_code() == VIR_ERR_INVALID_ARG);
	if (!d) {
		char shown[256];
		const char *why = virt_err();
		char *uri = virConnectGetURI(c);
		if (*missing)
			log_err("no domain '%s' at %s", esc_str(shown, sizeof(shown), name, false),
				uri ? uri : "libvirt");
		else
			log_err("looking up domain '%s': %s", esc_str(shown, sizeof(shown), name, false),
				why);
		free(uri);
	}
	return d;
}
