//! `ctx.map` and `ctx.parallel`: many child machines under one CONTEXT, with a completion
//! policy.

use super::child::ChildSpec;
use super::step::Serdes;
use super::{decode_json, failure_of};
use crate::executor::{ChildEnd, ChildOutput, context_result, succeed_context};
use crate::machine::Transition;
use crate::machine::ctx::Ctx;
use crate::machine::error::StepError;
use crate::machine::ids::step_id;
use crate::model::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How many children of a [`Ctx::map`] or [`Ctx::parallel`] run at once and when the whole
/// operation is complete.
///
/// Without a tolerance the operation is fail-fast: it completes at the first failed child.
///
/// ```
/// use durable_fsm::machine::ops::BatchConfig;
/// // Two at a time; done once 3 succeeded; give up after more than 1 failure.
/// let config = BatchConfig::new().max_concurrency(2).min_successful(3).tolerated_failures(1);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchConfig {
    max_concurrency: Option<usize>,
    min_successful: Option<usize>,
    tolerated_failure_count: Option<usize>,
    tolerated_failure_percentage: Option<f64>,
}

impl BatchConfig {
    /// All children at once, all must finish, fail-fast.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run at most `n` children at a time (in index order). `n` must be at least 1: a batch
    /// with 0 fails with `ValidationError` before it starts.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Complete as soon as `n` children succeeded.
    pub fn min_successful(mut self, n: usize) -> Self {
        self.min_successful = Some(n);
        self
    }

    /// Complete (`FAILURE_TOLERANCE_EXCEEDED`) once more than `n` children failed.
    pub fn tolerated_failures(mut self, n: usize) -> Self {
        self.tolerated_failure_count = Some(n);
        self
    }

    /// Complete (`FAILURE_TOLERANCE_EXCEEDED`) once more than `percent` % of the children
    /// failed.
    pub fn tolerated_failure_percentage(mut self, percent: f64) -> Self {
        self.tolerated_failure_percentage = Some(percent);
        self
    }

    fn tolerance_exceeded(&self, failed: usize, total: usize) -> bool {
        if failed == 0 {
            return false;
        }
        let by_count = self.tolerated_failure_count.map(|n| failed > n);
        let by_share = self
            .tolerated_failure_percentage
            .map(|p| total > 0 && (failed as f64) * 100.0 / (total as f64) > p);
        match (by_count, by_share) {
            (None, None) => self.min_successful.is_none(),
            (a, b) => a.unwrap_or(false) || b.unwrap_or(false),
        }
    }
}

/// Why a batch completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompletionReason {
    /// Every child finished.
    AllCompleted,
    /// `min_successful` children succeeded.
    MinSuccessfulReached,
    /// More children failed than tolerated.
    FailureToleranceExceeded,
}

/// Where a child of a batch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemStatus {
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Started, not finished when the batch completed.
    Started,
    /// Not started when the batch completed (such items are left out of a result).
    NotStarted,
}

/// One child of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem<T> {
    /// Position in the input list.
    pub index: usize,
    /// Branch name (parallel) if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it stands.
    pub status: ItemStatus,
    /// Its output, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
    /// Its error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// The outcome of [`Ctx::map`] / [`Ctx::parallel`]: every child in index order and why the
/// batch completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult<T> {
    /// Every child that started, in index order (children never started are left out).
    pub all: Vec<BatchItem<T>>,
    /// Why the batch completed.
    pub completion_reason: CompletionReason,
}

impl<T> BatchResult<T> {
    /// The outputs of the children that succeeded, in index order.
    pub fn successes(&self) -> impl Iterator<Item = &T> {
        self.all.iter().filter_map(|i| i.result.as_ref())
    }

    /// The errors of the children that failed, in index order.
    pub fn failures(&self) -> impl Iterator<Item = &ErrorObject> {
        self.all.iter().filter_map(|i| i.error.as_ref())
    }

    /// How many children succeeded.
    pub fn success_count(&self) -> usize {
        self.count(ItemStatus::Succeeded)
    }

    /// How many children failed.
    pub fn failure_count(&self) -> usize {
        self.count(ItemStatus::Failed)
    }

    fn count(&self, status: ItemStatus) -> usize {
        self.all.iter().filter(|i| i.status == status).count()
    }

    /// The outputs in index order, or the first error when any child failed.
    pub fn into_values(self) -> Result<Vec<T>, ErrorObject> {
        self.all
            .into_iter()
            .map(|i| match (i.result, i.error) {
                (Some(v), _) => Ok(v),
                (None, Some(e)) => Err(e),
                (None, None) => Err(ErrorObject::new(
                    "BatchItemNotFinished",
                    format!("batch item {} did not finish", i.index),
                )),
            })
            .collect()
    }
}

/// Codecs of a batch's values, instead of JSON: each child's result (its CONTEXT's payload)
/// and the whole [`BatchResult`] (the batch CONTEXT's payload).
///
/// ```
/// use durable_fsm::machine::ops::{BatchResult, BatchSerdes, Serdes};
/// let serdes: BatchSerdes<String> = BatchSerdes::new().result(Serdes::new(
///     |r: &BatchResult<String>| Ok(r.successes().cloned().collect::<Vec<_>>().join(",")),
///     |_text: &str| Err("write-only".to_string()),
/// ));
/// ```
#[derive(Clone, Debug)]
pub struct BatchSerdes<T> {
    item: Option<Serdes<T>>,
    result: Option<Serdes<BatchResult<T>>>,
}

impl<T> Default for BatchSerdes<T> {
    fn default() -> Self {
        BatchSerdes {
            item: None,
            result: None,
        }
    }
}

impl<T> BatchSerdes<T> {
    /// JSON for both.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each child's result with `serdes`.
    pub fn item(mut self, serdes: Serdes<T>) -> Self {
        self.item = Some(serdes);
        self
    }

    /// The whole result with `serdes`.
    pub fn result(mut self, serdes: Serdes<BatchResult<T>>) -> Self {
        self.result = Some(serdes);
        self
    }
}

/// What kind of batch runs.
#[derive(Clone, Copy)]
struct Kind {
    outer: &'static str,
    item: &'static str,
    /// Prefix of an item's default name (`map-item-3`).
    item_name: &'static str,
}

const MAP: Kind = Kind {
    outer: "Map",
    item: "MapIteration",
    item_name: "map-item",
};
const PARALLEL: Kind = Kind {
    outer: "Parallel",
    item: "ParallelBranch",
    item_name: "parallel-branch",
};

impl Ctx<'_> {
    /// Runs child machine `C` once per input (CONTEXT `Map`, one CONTEXT `MapIteration` per
    /// item), at most `max_concurrency` at a time in index order, until `config` says the
    /// batch is complete; returns every item's outcome in index order. Children that wait
    /// suspend the transition; it runs again, continuing them, when the service re-invokes.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::BatchConfig;
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// enum Resize { Image(String) }
    /// impl Transition for Resize {
    ///     type Input = String;
    ///     type Output = String;
    ///     fn start(url: String) -> Self { Resize::Image(url) }
    ///     async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///         let Resize::Image(url) = self;
    ///         Ok(Next::done(format!("{url}?w=200")))
    ///     }
    /// }
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Album { Thumbnails(Vec<String>) }
    /// # impl Transition for Album { type Input = Vec<String>; type Output = Vec<String>;
    /// #   fn start(urls: Vec<String>) -> Self { Album::Thumbnails(urls) }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let Album::Thumbnails(urls) = self;
    ///     let batch = ctx.map::<Resize>("thumbnails", urls, BatchConfig::new().max_concurrency(4)).await?;
    ///     Ok(Next::done(batch.successes().cloned().collect()))
    /// }
    /// # }
    /// ```
    pub async fn map<C>(
        &mut self,
        name: &str,
        inputs: Vec<C::Input>,
        config: BatchConfig,
    ) -> Result<BatchResult<C::Output>, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        self.map_with::<C>(name, inputs, config, BatchSerdes::new())
            .await
    }

    /// [`Ctx::map`] with codecs for the children's results and the batch result.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::{BatchConfig, BatchSerdes, Serdes};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Upper { Of(String) }
    /// # impl Transition for Upper { type Input = String; type Output = String;
    /// #   fn start(s: String) -> Self { Upper::Of(s) }
    /// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    /// #       let Upper::Of(s) = self; Ok(Next::done(s.to_uppercase())) } }
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Words { Run(Vec<String>) }
    /// # impl Transition for Words { type Input = Vec<String>; type Output = Vec<String>;
    /// #   fn start(w: Vec<String>) -> Self { Words::Run(w) }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let Words::Run(words) = self;
    ///     // Each item's result stored as plain text.
    ///     let raw = Serdes::new(|s: &String| Ok(s.clone()), |s: &str| Ok(s.to_string()));
    ///     let batch = ctx
    ///         .map_with::<Upper>("upper", words, BatchConfig::new(), BatchSerdes::new().item(raw))
    ///         .await?;
    ///     Ok(Next::done(batch.successes().cloned().collect()))
    /// }
    /// # }
    /// ```
    pub async fn map_with<C>(
        &mut self,
        name: &str,
        inputs: Vec<C::Input>,
        config: BatchConfig,
        serdes: BatchSerdes<C::Output>,
    ) -> Result<BatchResult<C::Output>, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        let items = inputs.into_iter().map(|input| (None, input)).collect();
        self.batch::<C>(name, MAP, items, config, serdes).await
    }

    /// Runs named branches, each a child machine `C` started from its input (CONTEXT
    /// `Parallel`, one CONTEXT `ParallelBranch` per branch), like [`Ctx::map`]. Branches of
    /// different kinds are variants of one enum `C`.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::BatchConfig;
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// enum Check { Fraud(u64), Stock(u64) }
    /// impl Transition for Check {
    ///     type Input = Check;
    ///     type Output = bool;
    ///     fn start(check: Check) -> Self { check }
    ///     async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///         Ok(Next::done(match self { Check::Fraud(cents) => cents < 10_000, Check::Stock(_) => true }))
    ///     }
    /// }
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Order { Verify(u64) }
    /// # impl Transition for Order { type Input = u64; type Output = bool;
    /// #   fn start(cents: u64) -> Self { Order::Verify(cents) }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let Order::Verify(cents) = self;
    ///     let branches = vec![("fraud".to_string(), Check::Fraud(cents)), ("stock".to_string(), Check::Stock(cents))];
    ///     let checks = ctx.parallel::<Check>("verify", branches, BatchConfig::new()).await?;
    ///     Ok(Next::done(checks.successes().all(|ok| *ok)))
    /// }
    /// # }
    /// ```
    pub async fn parallel<C>(
        &mut self,
        name: &str,
        branches: Vec<(String, C::Input)>,
        config: BatchConfig,
    ) -> Result<BatchResult<C::Output>, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        self.parallel_with::<C>(name, branches, config, BatchSerdes::new())
            .await
    }

    /// [`Ctx::parallel`] with codecs for the branches' results and the batch result.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::{BatchConfig, BatchResult, BatchSerdes, Serdes};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Quote { From(String) }
    /// # impl Transition for Quote { type Input = String; type Output = u64;
    /// #   fn start(s: String) -> Self { Quote::From(s) }
    /// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    /// #       let Quote::From(s) = self; Ok(Next::done(s.len() as u64 * 100)) } }
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Shop { Compare }
    /// # impl Transition for Shop { type Input = (); type Output = u64;
    /// #   fn start(_: ()) -> Self { Shop::Compare }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     // Record only the cheapest quote, not every branch's result.
    ///     let cheapest = Serdes::new(
    ///         |r: &BatchResult<u64>| Ok(r.successes().min().copied().unwrap_or(0).to_string()),
    ///         |_: &str| Err("the batch result is only written".to_string()),
    ///     );
    ///     let branches = vec![("acme".to_string(), "acme".to_string()), ("globex".to_string(), "globex".to_string())];
    ///     let quotes = ctx
    ///         .parallel_with::<Quote>("quotes", branches, BatchConfig::new(), BatchSerdes::new().result(cheapest))
    ///         .await?;
    ///     Ok(Next::done(quotes.successes().min().copied().unwrap_or(0)))
    /// }
    /// # }
    /// ```
    pub async fn parallel_with<C>(
        &mut self,
        name: &str,
        branches: Vec<(String, C::Input)>,
        config: BatchConfig,
        serdes: BatchSerdes<C::Output>,
    ) -> Result<BatchResult<C::Output>, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        let items = branches
            .into_iter()
            .map(|(name, input)| (Some(name), input))
            .collect();
        self.batch::<C>(name, PARALLEL, items, config, serdes).await
    }

    async fn batch<C>(
        &mut self,
        name: &str,
        kind: Kind,
        inputs: Vec<(Option<String>, C::Input)>,
        config: BatchConfig,
        serdes: BatchSerdes<C::Output>,
    ) -> Result<BatchResult<C::Output>, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        if config.max_concurrency == Some(0) {
            return Err(StepError::Failed(ErrorObject::new(
                "ValidationError",
                format!(
                    "{} `{name}`: max_concurrency must be at least 1",
                    kind.outer
                ),
            )));
        }
        let outer = ChildSpec {
            id: self.next_op_id(),
            parent: self.parent.map(str::to_string),
            sub_type: kind.outer,
            name,
        };
        let what = format!("{} `{name}`", kind.outer);
        match self.recorded(&outer.id, OperationType::Context) {
            Some(op) if op.status == OperationStatus::Succeeded => {
                let result = context_result(&*self.backend, op);
                return match &serdes.result {
                    Some(s) => s.decode(result.as_deref(), &what),
                    None => decode_json(&what, result.as_deref()),
                };
            }
            Some(op) => {
                if let Some(e) = failure_of(op) {
                    return Err(StepError::Failed(e));
                }
            }
            None => self
                .backend
                .defer(vec![outer.update(OperationAction::Start)]),
        }
        let total = inputs.len();
        let mut items: Vec<BatchItem<C::Output>> = Vec::with_capacity(total);
        let mut pending_inputs = Vec::with_capacity(total);
        for (index, (branch, input)) in inputs.into_iter().enumerate() {
            let id = step_id(Some(&outer.id), index as u64);
            let mut item = BatchItem {
                index,
                name: branch,
                status: ItemStatus::NotStarted,
                result: None,
                error: None,
            };
            if let Some(op) = self.recorded(&id, OperationType::Context) {
                match op.status {
                    OperationStatus::Succeeded => {
                        let result = context_result(&*self.backend, op);
                        item.result = Some(decode_item(&serdes, &what, result.as_deref())?);
                        item.status = ItemStatus::Succeeded;
                    }
                    _ => match failure_of(op) {
                        Some(e) => {
                            item.error = Some(e);
                            item.status = ItemStatus::Failed;
                        }
                        None => item.status = ItemStatus::Started,
                    },
                }
            }
            items.push(item);
            pending_inputs.push(Some(input));
        }
        let mut driven = vec![false; total];
        let reason = loop {
            if let Some(reason) = completion(&config, &items) {
                break Some(reason);
            }
            let mut progressed = false;
            for index in 0..total {
                if completion(&config, &items).is_some() {
                    break;
                }
                let running = items
                    .iter()
                    .filter(|i| i.status == ItemStatus::Started)
                    .count();
                let startable = match items[index].status {
                    ItemStatus::Started => true,
                    ItemStatus::NotStarted => config.max_concurrency.is_none_or(|m| running < m),
                    _ => false,
                };
                if !startable || driven[index] {
                    continue;
                }
                let Some(input) = pending_inputs[index].take() else {
                    continue;
                };
                driven[index] = true;
                progressed = true;
                let default_name = format!("{}-{index}", kind.item_name);
                let spec = ChildSpec {
                    id: step_id(Some(&outer.id), index as u64),
                    parent: Some(outer.id.clone()),
                    sub_type: kind.item,
                    name: items[index]
                        .name
                        .as_deref()
                        .filter(|n| !n.is_empty())
                        .unwrap_or(&default_name),
                };
                if items[index].status == ItemStatus::NotStarted {
                    self.backend
                        .defer(vec![spec.update(OperationAction::Start)]);
                }
                let end = self
                    .drive_child::<C>(&spec, input, serdes.item.as_ref())
                    .await;
                let item = &mut items[index];
                match end {
                    ChildEnd::Done(ChildOutput::Value(v)) => {
                        // Read back what was recorded, as every later run will.
                        item.result = Some(match &serdes.item {
                            Some(s) => {
                                let text = s.encode(&v, &what).map_err(StepError::Failed)?;
                                s.decode(Some(&text), &what)?
                            }
                            None => v,
                        });
                        item.status = ItemStatus::Succeeded;
                    }
                    ChildEnd::Done(ChildOutput::Json(json)) => {
                        item.result = Some(decode_item(&serdes, &what, Some(&json))?);
                        item.status = ItemStatus::Succeeded;
                    }
                    ChildEnd::Failed(e) => {
                        item.error = Some(e);
                        item.status = ItemStatus::Failed;
                    }
                    ChildEnd::Pending => item.status = ItemStatus::Started,
                    ChildEnd::Api(e) => return Err(StepError::Api(e)),
                    ChildEnd::Invalid(m) => return Err(StepError::Invocation(m)),
                }
            }
            if !progressed {
                break completion(&config, &items);
            }
        };
        let Some(reason) = reason else {
            return Err(StepError::Suspended);
        };
        // Items never started are left out, as AWS's SDKs do.
        let result = BatchResult {
            all: items
                .into_iter()
                .filter(|i| i.status != ItemStatus::NotStarted)
                .collect(),
            completion_reason: reason,
        };
        let json = match &serdes.result {
            Some(s) => s.encode(&result, &what).map_err(StepError::Failed)?,
            None => serde_json::to_string(&result).map_err(|e| {
                StepError::Failed(ErrorObject::new(
                    "SerdesError",
                    format!("cannot serialize the result of {what}: {e}"),
                ))
            })?,
        };
        let close = |action| outer.update(action);
        self.backend.defer(succeed_context(&outer.id, &close, json));
        Ok(result)
    }
}

fn decode_item<T: DeserializeOwned>(
    serdes: &BatchSerdes<T>,
    what: &str,
    payload: Option<&str>,
) -> Result<T, StepError> {
    match &serdes.item {
        Some(s) => s.decode(payload, what),
        None => decode_json(what, payload),
    }
}

/// Whether the batch is complete, and why.
fn completion<T>(config: &BatchConfig, items: &[BatchItem<T>]) -> Option<CompletionReason> {
    let total = items.len();
    let succeeded = items
        .iter()
        .filter(|i| i.status == ItemStatus::Succeeded)
        .count();
    let failed = items
        .iter()
        .filter(|i| i.status == ItemStatus::Failed)
        .count();
    if config.tolerance_exceeded(failed, total) {
        return Some(CompletionReason::FailureToleranceExceeded);
    }
    if config.min_successful.is_some_and(|m| succeeded >= m) {
        return Some(CompletionReason::MinSuccessfulReached);
    }
    (succeeded + failed == total).then_some(CompletionReason::AllCompleted)
}
