//! Group commit of new guests: GetId calls that create guests at the same
//! moment share one transaction and one commit (one multi-row INSERT), as
//! the SQLite writer groups its commits. One batch is in flight at a time;
//! what arrives meanwhile waits for the next, so the batches grow with the
//! load and a lone guest goes out at once.

use cognate_core::store::{NewIdentity, StoreError, StoreResult};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::connections::Connections;
use super::retry::{Attempt, Failure, is_unique_violation, retrying};

/// Guests per transaction at most.
const MAX_BATCH: usize = 256;

struct Job {
    identities: Vec<NewIdentity>,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// The queue of guests waiting for their commit.
pub(super) struct GuestBatcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GuestBatcher {
    /// Starts the task that commits the batches (it ends when the store,
    /// and with it the sender, is dropped).
    pub(super) fn start(conns: Arc<Connections>) -> GuestBatcher {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(commit_batches(conns, queue));
        GuestBatcher { jobs }
    }

    /// Creates `identities` in the next batch; answers once it is durable.
    pub(super) async fn insert(&self, identities: &[NewIdentity]) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Backend("the guest batcher has stopped".into());
        self.jobs
            .send(Job {
                identities: identities.to_vec(),
                reply,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn commit_batches(conns: Arc<Connections>, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let mut guests = batch[0].identities.len();
        while guests < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => {
                    guests += job.identities.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        // A caller that went away (its client hung up) gets no guest.
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let all: Vec<&NewIdentity> = batch.iter().flat_map(|j| &j.identities).collect();
        match insert_all(&conns, &all).await {
            Ok(()) => {
                for job in batch {
                    let _ = job.reply.send(Ok(()));
                }
            }
            // One job's id taken must not fail the others: each goes again
            // on its own. (Nothing of the batch was written.)
            Err(StoreError::Conflict(_)) if batch.len() > 1 => {
                for job in batch {
                    let refs: Vec<&NewIdentity> = job.identities.iter().collect();
                    let _ = job.reply.send(insert_all(&conns, &refs).await);
                }
            }
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// `identities` in one statement, committed on its own (a statement is
/// atomic: all of them or none), so one round trip: no BEGIN and COMMIT
/// of their own.
async fn insert_all(conns: &Arc<Connections>, identities: &[&NewIdentity]) -> StoreResult<()> {
    let ids: Vec<&str> = identities.iter().map(|i| i.id.as_str()).collect();
    let pools: Vec<&str> = identities.iter().map(|i| i.pool_id.as_str()).collect();
    let times: Vec<i64> = identities.iter().map(|i| i.created_at).collect();
    retrying!(conns, "insert_guests", async {
        sqlx::query(
            "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled, merged_into, version)
             SELECT id, pool_id, at, at, FALSE, NULL, 1
             FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS t(id, pool_id, at)",
        )
        .bind(&ids)
        .bind(&pools)
        .bind(&times)
        .execute(conns.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Failure::Store(StoreError::Conflict(format!(
                    "identity {} exists",
                    ids.join(", ")
                )))
            } else {
                // A connection found dead (after a failover, say) is
                // retried on another. The statement is its own commit, so
                // a connection lost while it ran may have committed it: the
                // retry then finds the ids taken, a Conflict, and nothing
                // is written twice.
                Failure::Db(e)
            }
        })?;
        let done: Attempt<()> = Ok(());
        done
    })
}
