//! Least privilege: before the hook reads anything a container's creator or an image's publisher
//! influences, it sets `no_new_privs` and gives up every capability — effective, permitted,
//! inheritable, ambient, and the bounding set — so that neither the hook nor the gpg processes
//! gpgme starts for it hold any. Reading the store, the policy and the keys needs none: in a
//! rootful store they belong to root, and in a rootless one to the user the hook runs as.

use caps::CapSet;

/// Why privileges could not be given up. The hook then denies, unless the policy accepts any
/// image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivilegeError {
    #[error("cannot set no_new_privs: {0}")]
    NoNewPrivs(String),
    #[error("cannot drop {what}: {reason}")]
    Drop { what: &'static str, reason: String },
}

/// Drops every capability and sets `no_new_privs`. The bounding set can only be emptied with
/// `CAP_SETPCAP`; a process without it (not root) has no capabilities to give up there, and
/// `no_new_privs` keeps an exec from gaining any.
pub fn drop_all() -> Result<(), PrivilegeError> {
    set_no_new_privs()?;
    let err = |what: &'static str, e: caps::errors::CapsError| PrivilegeError::Drop {
        what,
        reason: e.to_string(),
    };
    if caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false) {
        caps::clear(None, CapSet::Bounding).map_err(|e| err("the bounding set", e))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient capabilities", e))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| err("inheritable capabilities", e))?;
    caps::clear(None, CapSet::Effective).map_err(|e| err("effective capabilities", e))?;
    caps::clear(None, CapSet::Permitted).map_err(|e| err("permitted capabilities", e))?;
    Ok(())
}

#[allow(unsafe_code)]
fn set_no_new_privs() -> Result<(), PrivilegeError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(PrivilegeError::NoNewPrivs(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    Ok(())
}
