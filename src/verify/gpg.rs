//! OpenPGP verification through gpgme, in a private temporary GnuPG home that holds only the
//! policy's keys. The only file that talks to gpgme.
//!
//! Ref: containers/image `signature/mechanism_gpgme.go` (`newEphemeralGPGSigningMechanism`,
//! `Verify`), `signature/simple.go` (key identity check, newest: subkey → primary); docs/semantics.md, "OpenPGP acceptance".

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gpgme::{Context, Data, Protocol, Validity};

use super::{
    earliest, BoundedBuffer, Keyring, SignatureVerified, Verified, Verifier, MAX_PAYLOAD_BYTES,
};

/// Tells gpgme, before its first use, to find `gpg` on `PATH` (or in `/bin:/usr/bin` without
/// one) instead of asking `gpgconf` where it is. That spares four processes per cold verification
/// (`gpgconf --list-dirs`, `--list-components` and `--version`, and `gpgsm --version`), about a
/// third of the cold path. `gpgconf` was itself found on the same `PATH`, the one the runtime gives
/// the hook, so whom `gpg` is trusted from does not change. Nothing else gpgme does for a
/// verification reads gpgconf's answers: no agent, no dirmngr (`set_offline`).
fn skip_gpgconf() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only after gpgme's initialization, which nothing before this does; then gpgconf
        // is simply used as before.
        let _ = gpgme::set_flag("disable-gpgconf", "1");
    });
}

/// gpgme with an ephemeral home per keyring.
pub struct Gpgme {
    /// Where temporary homes are made (`$TMPDIR`, else `/tmp`).
    pub tmp: PathBuf,
}

impl Gpgme {
    pub fn new() -> Gpgme {
        Gpgme {
            tmp: std::env::temp_dir(),
        }
    }
}

impl Default for Gpgme {
    fn default() -> Self {
        Gpgme::new()
    }
}

impl Verifier for Gpgme {
    fn name(&self) -> &'static str {
        "gpgme"
    }

    fn open(&self, key_blobs: &[Vec<u8>]) -> Result<Box<dyn Keyring>, String> {
        let home = TempHome::create(&self.tmp)?;
        skip_gpgconf();
        let mut ctx =
            Context::from_protocol(Protocol::OpenPgp).map_err(|e| format!("gpgme: {e}"))?;
        let home_str = home
            .path()
            .to_str()
            .ok_or("temporary directory path is not UTF-8")?;
        // The first call that needs the engine: it fails when gpg cannot be found or run.
        ctx.set_engine_home_dir(home_str).map_err(|e| {
            format!("gpgme cannot use gpg (is gnupg installed, with gpg on PATH?): {e}")
        })?;
        ctx.set_armor(false);
        ctx.set_text_mode(false);
        ctx.set_offline(true);
        let mut trusted = Vec::new();
        for blob in key_blobs {
            let res = ctx
                .import(blob)
                .map_err(|e| format!("importing keys: {e}"))?;
            for imp in res.imports() {
                if imp.result().is_ok() {
                    if let Ok(fpr) = imp.fingerprint() {
                        trusted.push(fpr.to_string());
                    }
                }
            }
        }
        Ok(Box::new(GpgKeyring {
            ctx,
            trusted,
            _home: home,
        }))
    }
}

struct GpgKeyring {
    ctx: Context,
    /// Primary-key fingerprints of the imported keys.
    trusted: Vec<String>,
    // Dropped after `ctx`: the directory goes once gpgme is done with it.
    _home: TempHome,
}

impl Keyring for GpgKeyring {
    fn key_count(&self) -> usize {
        self.trusted.len()
    }

    fn verify(&mut self, signature: &[u8]) -> Result<Verified, String> {
        // gpg writes out all the plaintext it decompresses: the buffer refuses what is past the
        // bound, gpgme then ends the operation and closes gpg's pipes, and gpg stops.
        let mut plaintext = BoundedBuffer::new(MAX_PAYLOAD_BYTES);
        let result = match Data::from_writer(&mut plaintext) {
            Ok(data) => self.ctx.verify_opaque(signature, data),
            Err(e) => Err(e.error()),
        };
        let payload = plaintext.into_inner()?;
        let result = result.map_err(|e| format!("GPG verification failed: {e}"))?;
        let sigs: Vec<_> = result.signatures().collect();
        if sigs.len() != 1 {
            return Err(format!("unexpected GPG signature count {}", sigs.len()));
        }
        let sig = &sigs[0];
        let fpr = sig.fingerprint().unwrap_or("").to_string();
        if let Err(e) = sig.status() {
            return Err(format!("invalid GPG signature by {fpr}: {e}"));
        }
        if sig.validity() == Validity::Never {
            return Err(format!("invalid GPG signature by {fpr}: validity never"));
        }
        if let Some(e) = sig.nonvalidity_reason() {
            return Err(format!("invalid GPG signature by {fpr}: {e}"));
        }
        if sig.is_wrong_key_usage() {
            return Err(format!("invalid GPG signature by {fpr}: wrong key usage"));
        }
        let sig_expires = sig.expiration_time();
        drop(sigs);
        // The signer's whole key: its primary key, and the subkey that signed (which may be the
        // primary key itself).
        // A key listing on this context (`get_key` would make a new one, and gpgme would run
        // `gpg --version` again for it). The fingerprint selects at most one key.
        let key = self
            .ctx
            .find_keys([fpr.as_str()])
            .ok()
            .and_then(|mut keys| {
                keys.find_map(Result::ok)
                    .filter(|k| k.subkeys().any(|s| s.fingerprint() == Ok(fpr.as_str())))
            });
        let primary = key
            .as_ref()
            .and_then(|k| k.fingerprint().ok().map(str::to_string));
        // A signing subkey counts for its primary key (newest containers/image).
        let signer = if self.trusted.contains(&fpr) {
            fpr.clone()
        } else {
            match primary {
                Some(p) if self.trusted.contains(&p) => p,
                Some(p) => return Err(format!("signature by key {fpr} of {p} is not accepted")),
                None => return Err(format!("signature by key {fpr} is not accepted")),
            }
        };
        // gpg refuses a signature once it or either key has expired; without the key's
        // details, the verification holds only for now.
        let expires = match &key {
            Some(k) => k
                .subkeys()
                .enumerate()
                .filter(|(i, s)| *i == 0 || s.fingerprint() == Ok(fpr.as_str()))
                .fold(sig_expires, |e, (_, s)| earliest(e, s.expiration_time())),
            None => Some(SystemTime::UNIX_EPOCH),
        };
        Ok(Verified {
            payload,
            signer,
            expires,
            _proof: SignatureVerified(()),
        })
    }
}

/// A private GnuPG home (0700, in `tmp`, named `oci-signature-hook-<pid>-…` with an owner file:
/// `residue`), removed on drop, and at the deadline with the gpg processes running in it.
struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    fn create(tmp: &Path) -> Result<TempHome, String> {
        use std::os::unix::fs::PermissionsExt;
        // Homes that killed hooks left behind, once per process (bounded).
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| {
            crate::residue::sweep(tmp);
        });
        let dir = tempfile::Builder::new()
            .prefix(&format!(
                "{}{}-",
                crate::residue::HOME_PREFIX,
                std::process::id()
            ))
            // tempfile leaves a directory's mode to the umask unless told.
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(tmp)
            .map_err(|e| {
                // tempfile's message adds the random name it tried: say only what the system did.
                let cause = e
                    .raw_os_error()
                    .map(std::io::Error::from_raw_os_error)
                    .unwrap_or(e);
                format!(
                    "cannot create a temporary GnuPG home in {tmp:?}: {}",
                    crate::words::io(&cause)
                )
            })?;
        let home = TempHome { dir };
        crate::residue::track(home.path())?;
        let dir = &home.dir;
        crate::residue::mark(dir.path()).map_err(|e| {
            format!(
                "cannot write to temporary GnuPG home {:?}: {}",
                dir.path(),
                crate::words::io(&e)
            )
        })?;
        // gpg must not start a gpg-agent or dirmngr for this home: verifying and importing
        // public keys needs neither, and nothing would stop them.
        std::fs::write(dir.path().join("gpg.conf"), "no-autostart\n").map_err(|e| {
            format!(
                "cannot write to temporary GnuPG home {:?}: {}",
                dir.path(),
                crate::words::io(&e)
            )
        })?;
        Ok(home)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        // The directory itself goes right after, with `dir`.
        crate::residue::untrack(self.dir.path());
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_home_is_private_stops_agents_and_goes_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let home = TempHome::create(tmp.path()).unwrap();
        let path = home.path().to_path_buf();
        assert_eq!(path.parent(), Some(tmp.path()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let prefix = format!("oci-signature-hook-{}-", std::process::id());
        assert!(name.starts_with(&prefix), "{name}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            std::fs::read_to_string(path.join("gpg.conf")).unwrap(),
            "no-autostart\n"
        );
        let other = TempHome::create(tmp.path()).unwrap();
        assert_ne!(other.path(), path);
        drop(home);
        assert!(!path.exists());
        assert!(other.path().exists());
    }

    #[test]
    fn a_missing_temporary_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = TempHome::create(&tmp.path().join("missing")).err().unwrap();
        assert!(
            err.contains("cannot create a temporary GnuPG home"),
            "{err}"
        );
    }
}
