//! [`ServiceRegistration`]: an SDP record published through bluetoothd's
//! `ProfileManager1`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bluer::rfcomm::{Profile, ProfileHandle, Role};
use uuid::Uuid;

use super::{call, BluezError};
use crate::sdp::record_xml;
use crate::service_info::attribute;
use crate::ServiceInfo;

/// A record bluetoothd serves to peers' SDP queries while this handle lives.
///
/// Dropping it (or calling [`unregister`](Self::unregister)) removes the record; the drop
/// waits until bluetoothd has removed it (at most
/// [`CALL_TIMEOUT`](super::CALL_TIMEOUT)), so a peer asking right after no longer finds
/// it.
#[must_use = "dropping a ServiceRegistration unregisters the record"]
pub struct ServiceRegistration {
    profile: Option<ProfileHandle>,
    profile_uuid: Uuid,
}

impl fmt::Debug for ServiceRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceRegistration")
            .field("profile_uuid", &self.profile_uuid)
            .field("registered", &self.profile.is_some())
            .finish()
    }
}

/// A fresh random (version 4) UUID naming the registration, not the service.
fn registration_uuid() -> Uuid {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    for half in bytes.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Publishes `info`'s attributes as a record. See [`ServiceInfo::register_service`].
pub(crate) fn register(info: &ServiceInfo) -> Result<ServiceRegistration, BluezError> {
    let mut attributes = info.attributes().clone();
    // bluetoothd gives the record its handle.
    attributes.remove(&attribute::SERVICE_RECORD_HANDLE);
    let xml = record_xml(&attributes).map_err(BluezError::InvalidRecord)?;
    // The profile is registered under a UUID of its own: ProfileManager1 takes each UUID
    // once per bluetoothd, and for UUIDs it knows (SerialPort, say) it would listen on
    // that profile's default channel itself. The record says what the service is.
    let profile_uuid = registration_uuid();
    let profile = Profile {
        uuid: profile_uuid,
        name: info.service_name(),
        role: Some(Role::Server),
        service_record: Some(xml),
        require_authentication: Some(false),
        require_authorization: Some(false),
        auto_connect: Some(false),
        ..Profile::default()
    };
    let handle = call(move |session| async move {
        session
            .register_profile(profile)
            .await
            .map_err(BluezError::from)
    })?;
    Ok(ServiceRegistration {
        profile: Some(handle),
        profile_uuid,
    })
}

impl ServiceRegistration {
    /// Removes the record now and reports how that went (Qt: `unregisterService`). The
    /// drop does the same and ignores the outcome.
    ///
    /// # Errors
    /// As any call to bluetoothd: not running, no answer in time.
    pub fn unregister(mut self) -> Result<(), BluezError> {
        self.remove()
    }

    fn remove(&mut self) -> Result<(), BluezError> {
        let Some(profile) = self.profile.take() else {
            return Ok(());
        };
        call(move |session| async move {
            // Dropping the handle wakes bluer's task that sends UnregisterProfile. Yield
            // so that task runs (and sends) first, then make one more call to
            // bluetoothd: it answers calls in order, so its reply means the record is
            // gone.
            drop(profile);
            tokio::task::yield_now().await;
            session.adapter_names().await.map_err(BluezError::from)?;
            Ok(())
        })
    }
}

impl Drop for ServiceRegistration {
    fn drop(&mut self) {
        if let Err(e) = self.remove() {
            log::warn!("unregistering an SDP record: {e}");
        }
    }
}
