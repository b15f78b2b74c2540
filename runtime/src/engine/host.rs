//! What every WASP host interface (`logging`, `output`, `state`, and the
//! next one) does around a guest call, behind one small trait: it owns its
//! state and its budget, names the fault that going over the budget causes,
//! and follows the call's lifecycle.
//!
//! Invariant: a call's effects on an interface (staged records, state
//! changes) become real only through [`HostInterface::commit`], which runs
//! after a call that completed without a fault; after a fault every
//! interface gets [`HostInterface::discard`], so a call that trapped leaves
//! no trace and its events can be run again one by one.
//!
//! The store ([`super::store::StoreData::interfaces`]) lists the interfaces;
//! `instance.rs` loops over that list, so adding an interface does not touch
//! the batch loop or the fault classification.

use super::fault::FaultKind;

/// One host interface's part in a guest call.
pub(crate) trait HostInterface {
    /// Starts a call over `batch`, the events' sequences (ascending), with
    /// per-event budgets multiplied by `events` (`batch.len()`, or for
    /// `init`, whose batch is empty, the events its budget is worth).
    fn begin(&mut self, batch: &[u64], events: usize);

    /// The budget fault this interface recorded in the call that just
    /// trapped (the host function returned an error to trap it), if any.
    fn over_budget(&self) -> Option<FaultKind>;

    /// Why a call that completed must still fail (its results cannot be
    /// trusted), if any.
    fn failed(&self) -> Option<String> {
        None
    }

    /// The call completed without a fault: make its effects real.
    fn commit(&mut self);

    /// The call faulted (or `failed`): forget its effects.
    fn discard(&mut self);
}
