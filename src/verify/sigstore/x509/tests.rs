//! Certificate parsing and chain verification with real certificates (`../testdata/*.pem`,
//! made by `make.py`), held to Go's `crypto/x509` (`Certificate.Verify`, `VerifyHostname`).
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::verify::sigstore::tests::{fixture, T_SET};

fn cert(name: &str) -> Certificate {
    let mut v = certificates_from_pem(&fixture(&format!("{name}.pem"))).unwrap();
    assert_eq!(v.len(), 1, "{name}");
    v.remove(0)
}

fn certs(names: &[&str]) -> Vec<Certificate> {
    names.iter().map(|n| cert(n)).collect()
}

/// Seconds since the epoch of a UTC date.
fn date(y: i64, m: i64, d: i64) -> i64 {
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

#[test]
fn parses_what_the_checks_read() {
    let c = cert("fulcio-leaf");
    assert_eq!(c.emails, ["signer@example.com"]);
    assert_eq!(c.not_before, date(2021, 1, 1));
    assert_eq!(c.not_after, date(2021, 1, 1) + 600);
    assert_eq!(c.key.as_ref().unwrap().describe(), "ECDSA P-256");
    // A critical SAN with an e-mail is handled by Go's parser.
    assert!(c.unhandled_critical.is_empty());
    let oids: Vec<String> = c.extensions.iter().map(|(o, _)| o.to_string()).collect();
    assert!(
        oids.contains(&"1.3.6.1.4.1.57264.1.1".to_string()),
        "{oids:?}"
    );
    assert!(
        oids.contains(&"1.3.6.1.4.1.57264.1.8".to_string()),
        "{oids:?}"
    );
    // A critical SAN with only an otherName is not.
    assert_eq!(cert("fulcio-othername").unhandled_critical, [OID_SAN]);
    assert_eq!(
        cert("leaf-unknown-critical")
            .unhandled_critical
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["1.2.3.4.5"]
    );
    let dns = cert("pki-dns");
    assert_eq!(dns.dns_names, ["signer.example.com", "*.wild.example.com"]);
    let ip = cert("pki-ip");
    assert_eq!(
        ip.ip_addresses,
        [
            "192.0.2.1".parse::<IpAddr>().unwrap(),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        ]
    );
    assert!(Certificate::from_der(b"garbage")
        .unwrap_err()
        .contains("x509: malformed certificate"));
    // Certificates from PEM: nothing but certificate blocks.
    assert_eq!(
        certificates_from_pem(&[fixture("int-ca.pem"), fixture("ca-root.pem")].concat())
            .unwrap()
            .len(),
        2
    );
    assert!(
        certificates_from_pem(&[fixture("int-ca.pem"), b"junk".to_vec()].concat())
            .unwrap_err()
            .contains("error during PEM decoding")
    );
    assert_eq!(certificates_from_pem(b"  \n").unwrap().len(), 0);
    // A CA pool skips what is not a certificate, and needs one.
    assert_eq!(
        pool_from_pem(
            &[fixture("key-p256.pem"), fixture("ca-root.pem")].concat(),
            "CAs"
        )
        .unwrap()
        .len(),
        1
    );
    assert_eq!(
        pool_from_pem(&fixture("key-p256.pem"), "CAs").unwrap_err(),
        "error loading CAs"
    );
}

#[test]
fn chain_verification() {
    let t2021 = T_SET;
    let t2030 = date(2030, 1, 1);
    let leaf_end = date(2098, 1, 1);
    let none: &[Oid] = &[];
    let san: &[Oid] = &[OID_SAN];
    // (what, leaf, intermediates, roots, time, tolerated, Ok(expiry) or Err(substring))
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
        i64,
        &'a [Oid],
        Result<i64, &'a str>,
    );
    let unknown = "x509: certificate signed by unknown authority";
    let expired = "x509: certificate has expired or is not yet valid";
    let rows: Vec<Row> = vec![
        (
            "good",
            "pki-email",
            &["int-ca"],
            &["ca-root"],
            t2030,
            none,
            Ok(leaf_end),
        ),
        (
            "leaf's last second",
            "pki-email",
            &["int-ca"],
            &["ca-root"],
            leaf_end,
            none,
            Ok(leaf_end),
        ),
        (
            "leaf expired",
            "pki-email",
            &["int-ca"],
            &["ca-root"],
            leaf_end + 1,
            none,
            Err(expired),
        ),
        (
            "leaf not yet valid",
            "pki-email",
            &["int-ca"],
            &["ca-root"],
            date(2019, 6, 1),
            none,
            Err(expired),
        ),
        (
            "leaf's first second",
            "pki-email",
            &["int-ca"],
            &["ca-root"],
            date(2020, 1, 1),
            none,
            Ok(leaf_end),
        ),
        // The chain holds until its earliest expiry: the intermediate's.
        (
            "intermediate valid",
            "leaf-short",
            &["int-short"],
            &["ca-root"],
            t2021,
            none,
            Ok(date(2022, 1, 1)),
        ),
        (
            "intermediate expired",
            "leaf-short",
            &["int-short"],
            &["ca-root"],
            t2030,
            none,
            Err(expired),
        ),
        (
            "root valid",
            "leaf-expired-root",
            &[],
            &["ca-root-expired"],
            date(2018, 1, 1),
            none,
            Ok(date(2019, 1, 1)),
        ),
        (
            "root expired",
            "leaf-expired-root",
            &[],
            &["ca-root-expired"],
            t2021,
            none,
            Err(expired),
        ),
        (
            "Fulcio leaf then",
            "fulcio-leaf",
            &["int-ca"],
            &["ca-root"],
            t2021,
            none,
            Ok(date(2021, 1, 1) + 600),
        ),
        (
            "Fulcio leaf now",
            "fulcio-leaf",
            &["int-ca"],
            &["ca-root"],
            t2030,
            none,
            Err(expired),
        ),
        (
            "intermediate missing",
            "pki-email",
            &[],
            &["ca-root"],
            t2030,
            none,
            Err(unknown),
        ),
        (
            "root missing",
            "pki-email",
            &["int-ca"],
            &[],
            t2030,
            none,
            Err(unknown),
        ),
        (
            "another root",
            "pki-email",
            &["int-ca"],
            &["ca-root-expired"],
            t2030,
            none,
            Err(unknown),
        ),
        // An intermediate named as a root anchors the chain.
        (
            "intermediate as root",
            "pki-email",
            &[],
            &["int-ca"],
            t2030,
            none,
            Ok(leaf_end),
        ),
        (
            "leaf as root",
            "pki-email",
            &[],
            &["pki-email"],
            t2030,
            none,
            Ok(leaf_end),
        ),
        (
            "no EKU",
            "fulcio-noeku",
            &["int-ca"],
            &["ca-root"],
            t2021,
            none,
            Ok(date(2021, 1, 1) + 600),
        ),
        (
            "any EKU",
            "fulcio-anyeku",
            &["int-ca"],
            &["ca-root"],
            t2021,
            none,
            Ok(date(2021, 1, 1) + 600),
        ),
        (
            "serverAuth only",
            "fulcio-serverauth",
            &["int-ca"],
            &["ca-root"],
            t2021,
            none,
            Err("x509: certificate specifies an incompatible key usage"),
        ),
        (
            "intermediate not a CA",
            "leaf-notca",
            &["int-notca"],
            &["ca-root"],
            t2030,
            none,
            Err("parent certificate cannot sign this kind of certificate"),
        ),
        (
            "two intermediates",
            "leaf-2int",
            &["int2b", "int2a"],
            &["ca-root"],
            t2030,
            none,
            Ok(date(2099, 1, 1)),
        ),
        (
            "one of two intermediates",
            "leaf-2int",
            &["int2b"],
            &["ca-root"],
            t2030,
            none,
            Err(unknown),
        ),
        (
            "path length 0 with an intermediate below",
            "leaf-pl0",
            &["int-under-pl0", "int-pl0"],
            &["ca-root"],
            t2030,
            none,
            Err("x509: too many intermediates for path length constraint"),
        ),
        (
            "SHA-1",
            "leaf-sha1",
            &["int-ca"],
            &["ca-root"],
            t2030,
            none,
            Err("insecure algorithm"),
        ),
        (
            "unknown critical extension",
            "leaf-unknown-critical",
            &["int-ca"],
            &["ca-root"],
            t2030,
            san,
            Err("x509: unhandled critical extension"),
        ),
        (
            "critical SAN Go leaves unhandled",
            "fulcio-othername",
            &["int-ca"],
            &["ca-root"],
            t2021,
            none,
            Err("x509: unhandled critical extension"),
        ),
        (
            "critical SAN tolerated",
            "fulcio-othername",
            &["int-ca"],
            &["ca-root"],
            t2021,
            san,
            Ok(date(2021, 1, 1) + 600),
        ),
    ];
    for (what, leaf, ints, roots, at, tolerated, want) in rows {
        let got = verify(&cert(leaf), &certs(ints), &certs(roots), at, tolerated);
        match (got, want) {
            (Ok(t), Ok(w)) => assert_eq!(t, w, "{what}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{what}: {e:?} lacks {w:?}"),
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn host_names_as_go_matches_them() {
    let dns = cert("pki-dns");
    let ip = cert("pki-ip");
    let rows: &[(&Certificate, &str, bool)] = &[
        (&dns, "signer.example.com", true),
        (&dns, "SIGNER.Example.COM", true),
        (&dns, "signer.example.com.", true),
        (&dns, "signer.example.com..", false),
        (&dns, "x.wild.example.com", true),
        (&dns, "X.WILD.example.com.", true),
        // A wildcard matches one whole label.
        (&dns, "wild.example.com", false),
        (&dns, "a.b.wild.example.com", false),
        (&dns, "other.example.com", false),
        (&dns, "example.com", false),
        (&dns, "", false),
        (&dns, ".", false),
        // Not a valid host name: only an exact (case-insensitive) match.
        (&dns, "*.wild.example.com", true),
        (&dns, "*.WILD.example.com", true),
        (&dns, "*.example.com", false),
        // An IP address is matched against IP SANs only.
        (&dns, "192.0.2.1", false),
        (&ip, "192.0.2.1", true),
        (&ip, "[192.0.2.1]", true),
        (&ip, "::ffff:192.0.2.1", true),
        (&ip, "2001:db8::1", true),
        (&ip, "[2001:db8::1]", true),
        (&ip, "2001:DB8:0:0:0:0:0:1", true),
        (&ip, "192.0.2.2", false),
        (&ip, "signer.example.com", false),
    ];
    for (c, host, want) in rows {
        assert_eq!(
            c.matches_hostname(host),
            *want,
            "{host:?} for {:?}",
            c.dns_names
        );
    }
}

#[test]
fn handled_extensions_must_parse_as_in_go() {
    let aki = Oid::new_unwrap("2.5.29.35");
    let ski = Oid::new_unwrap("2.5.29.14");
    // (extension, value, parses)
    let cases: &[(Oid, &[u8], bool)] = &[
        (aki, &[0x30, 0x03, 0x80, 0x01, 0xaa], true),
        (aki, &[0x04, 0x01, 0xaa], false),
        (aki, b"garbage", false),
        (ski, &[0x04, 0x02, 0xaa, 0xbb], true),
        (ski, &[0x30, 0x00], false),
        // Not one of Go's handled extensions: its contents are not looked at.
        (Oid::new_unwrap("1.2.3.4"), b"anything", true),
    ];
    for (id, value, ok) in cases {
        assert_eq!(parse_handled(*id, value).is_ok(), *ok, "{id} {value:?}");
    }
}

#[test]
fn trims_unicode_space_as_go_bytes_trim_space() {
    let cases: &[(&[u8], &[u8])] = &[
        (b" \t\n\x0b\x0cabc\r\n", b"abc"),
        ("\u{a0}\u{85}abc\u{2003}".as_bytes(), b"abc"),
        (b"\xffabc \xff", b"\xffabc \xff"),
        (b"   ", b""),
        (b"", b""),
    ];
    for (input, want) in cases {
        assert_eq!(trim_space(input), *want, "{input:?}");
    }
}

/// A name constraints extension with one e-mail subtree: `[0]` permitted or `[1]` excluded.
fn email_constraint(excluded: bool, name: &str) -> Vec<u8> {
    let base = [&[0x81, name.len() as u8][..], name.as_bytes()].concat();
    let subtree = [&[0x30, base.len() as u8][..], &base].concat();
    let tag = if excluded { 0xa1 } else { 0xa0 };
    let list = [&[tag, subtree.len() as u8][..], &subtree].concat();
    [&[0x30, list.len() as u8][..], &list].concat()
}

/// The leaf's e-mail (signer@example.com) against a CA's e-mail constraints, as Go checks them.
#[test]
fn name_constraints_hold_for_the_names_below_the_ca() {
    let leaf = cert("fulcio-leaf");
    let cases = [
        (false, "example.com", true),
        (false, "signer@example.com", true),
        (false, ".example.com", false),
        (false, "example.org", false),
        (true, "example.com", false),
        (true, "example.org", true),
    ];
    for (excluded, name, ok) in cases {
        let (nc, unhandled) = constraints::parse(&email_constraint(excluded, name)).unwrap();
        assert!(!unhandled);
        assert_eq!(nc.check(&leaf).is_ok(), ok, "excluded={excluded} {name}");
    }
    // An empty extension, and garbage, are refused as Go refuses them.
    assert!(constraints::parse(&[0x30, 0x00]).is_err());
    assert!(constraints::parse(b"garbage").is_err());
}
