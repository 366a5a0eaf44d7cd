/* libartifactprov — the syntax of a reference, before anything runs:
 * SCHEME:REST, a loaded vendor serving SCHEME, and that vendor's own
 * check_ref (no I/O).  The provisioner uses the scheme parse and the
 * grammar list for its errors; a daemon calls ap_vendor_set_check_ref to
 * refuse a malformed reference at submission.
 * SPDX-License-Identifier: MIT */
#include "prov.h"

#include <stdio.h>
#include <string.h>

int apx_ref_scheme(const char *ref, size_t *len)
{
    size_t i;
    for (i = 0; ref[i] && ref[i] != ':'; i++) {
        char c = ref[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
            return -1;
    }
    if (!ref[i] || i == 0)
        return -1;
    *len = i;
    return 0;
}

/* The reference grammar of the vendors loaded: each vendor's `usage`, or
 * "SCHEME:..." for one that declares none; "none (set AP_VENDOR_PATH?)"
 * when no vendor is loaded.  The core knows no grammar of its own. */
void apx_vendor_grammar(const ap_provisioner *p, char *buf, size_t sz)
{
    size_t i, j, used = 0;
    int n;
    buf[0] = '\0';
    for (i = 0; i < p->nvendors; i++) {
        const ap_vendor *d = &p->vendors[i].desc;
        if (AP_VENDOR_HAS(d, usage) && d->usage[0]) {
            n = snprintf(buf + used, sz - used, "%s%s", used ? "; " : "", d->usage);
            if (n < 0 || (size_t)n >= sz - used)
                return;
            used += (size_t)n;
            continue;
        }
        for (j = 0; d->schemes[j]; j++) {
            n = snprintf(buf + used, sz - used, "%s%s:...", used ? "; " : "",
                         d->schemes[j]);
            if (n < 0 || (size_t)n >= sz - used)
                return;
            used += (size_t)n;
        }
    }
    if (!used)
        snprintf(buf, sz, "none (no vendor is loaded; set AP_VENDOR_PATH?)");
}

static int check_ref(const ap_provisioner *p, const char *ref, char *err, size_t errlen)
{
    char known[1024], why[512];
    const apx_vendor *v;
    const unsigned char *c;
    size_t sl;
    int rc;

    if (!err || !errlen)
        errlen = 0;
    else
        err[0] = '\0';
#define SAY(...) (errlen ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)
    if (!p || !ref)
        return AP_EINVAL;
    for (c = (const unsigned char *)ref; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            break;
    if (*c || apx_ref_scheme(ref, &sl) != 0) {
        apx_vendor_grammar(p, known, sizeof known);
        SAY("'%.300s': not a reference (want SCHEME:..., no control character; the "
            "vendors loaded accept: %s)", ref, known);
        return AP_EINVAL;
    }
    if (!(v = apx_vendor_for_scheme((ap_provisioner *)p, ref, sl))) {
        if (!p->nvendors)
            SAY("%.300s: no vendor serves the scheme '%.*s:': no vendor is loaded "
                "(set AP_VENDOR_PATH?)", ref, (int)sl, ref);
        else {
            apx_vendor_grammar(p, known, sizeof known);
            SAY("%.300s: no vendor serves the scheme '%.*s:' (the vendors loaded "
                "accept: %s)", ref, (int)sl, ref, known);
        }
        return AP_EVENDOR;
    }
    if (!AP_VENDOR_HAS(&v->desc, check_ref))
        return AP_OK; /* the vendor finds out when it resolves */
    why[0] = '\0';
    rc = v->desc.check_ref(ref, why, sizeof why);
    if (rc == AP_OK)
        return AP_OK;
    if (rc > 0 || (rc != AP_ENOMEM && rc != AP_EINVAL))
        rc = AP_EINVAL;
    if (rc == AP_ENOMEM)
        SAY("%.300s: out of memory", ref);
    else if (AP_VENDOR_HAS(&v->desc, usage) && v->desc.usage && v->desc.usage[0])
        SAY("%.300s: bad %s reference: %s (want %s)", ref, v->desc.name,
            why[0] ? why : "malformed", v->desc.usage);
    else
        SAY("%.300s: bad %s reference: %s", ref, v->desc.name, why[0] ? why : "malformed");
#undef SAY
    return rc;
}

AP_EXPORT int ap_provisioner_check_ref(const ap_provisioner *prov, const char *ref,
                                       char *err, size_t errlen)
{
    return check_ref(prov, ref, err, errlen);
}

AP_EXPORT int ap_vendor_set_check_ref(const ap_vendor_set *set, const char *ref,
                                      char *err, size_t errlen)
{
    if (!set) {
        if (err && errlen)
            snprintf(err, errlen, "no vendor set");
        return AP_EINVAL;
    }
    return check_ref(&set->shell, ref, err, errlen);
}
