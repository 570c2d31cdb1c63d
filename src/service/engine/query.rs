//! Read-only APIs: GetDurableExecution, GetDurableExecutionHistory,
//! ListDurableExecutionsByFunction and the all-functions list for the CLI.

use super::ids::{self, Marker};
use super::lifecycle::not_found;
use super::record::ExecutionRecord;
use super::{Engine, ListExecutions, events};
use crate::api::ApiError;
use crate::model::*;
use std::time::Duration;

impl Engine {
    /// GetDurableExecution.
    pub fn get_execution(
        &self,
        arn: &str,
        include_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        let h = &rec.h;
        let timeout_at = h
            .execution_timeout
            .filter(|&s| s > 0 && rec.running())
            .map(|s| h.start.add(Duration::from_secs(s.unsigned_abs())));
        Ok(GetDurableExecutionResponse {
            durable_execution_arn: h.arn.clone(),
            durable_execution_name: h.name.clone(),
            function_arn: self.function_arn(rec),
            input_payload: h.input.clone().filter(|_| include_data),
            result: h
                .result
                .clone()
                .filter(|_| include_data && h.status == ExecutionStatus::Succeeded),
            error: h
                .error
                .clone()
                .filter(|_| h.status.is_terminal() && h.status != ExecutionStatus::Succeeded),
            start_timestamp: h.start,
            status: h.status,
            end_timestamp: h.end,
            version: Some(h.version.clone()),
            trace_header: None,
            execution_data_included: Some(include_data),
            durable_config: Some(DurableConfig {
                execution_timeout: h.execution_timeout,
                retention_period_in_days: h.retention_days,
                kms_key_arn: None,
            }),
            pause_details: None,
            expected_execution_timeout_timestamp: timeout_at,
        })
    }

    /// Every operation of an execution in creation order, hidden ones included (for tools
    /// and tests; handlers read state through [`Engine::get_state`]).
    pub fn operations(&self, arn: &str) -> Result<Vec<Operation>, ApiError> {
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        Ok(rec.ops.iter().map(|e| e.op.clone()).collect())
    }

    /// Every recorded event of an execution (events held back during a running invocation
    /// are not recorded yet).
    pub fn events(&self, arn: &str) -> Result<Vec<Event>, ApiError> {
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        Ok(rec.events.clone())
    }

    /// `(name, callback id)` of the execution's STARTED callbacks, in creation order (the
    /// name is empty when the operation has none).
    pub fn open_callbacks(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError> {
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        Ok(rec
            .callback_ops()
            .iter()
            .filter_map(|&i| rec.ops.get(i))
            .filter(|e| e.op.status == OperationStatus::Started && rec.running())
            .filter_map(|e| {
                let id = e.op.callback_details.as_ref()?.callback_id.clone()?;
                Some((e.op.name.clone().unwrap_or_default(), id))
            })
            .collect())
    }

    fn function_arn(&self, rec: &ExecutionRecord) -> String {
        ids::function_arn(
            &self.config.region,
            &self.config.account_id,
            &rec.h.function_name,
            Some(&rec.h.version),
        )
    }

    /// GetDurableExecutionHistory (IncludeExecutionData defaults to true).
    pub fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        let rec = self
            .recs
            .get(&req.durable_execution_arn)
            .ok_or_else(|| not_found(&req.durable_execution_arn))?;
        let max = ids::page_size(req.max_items)? as u64;
        let include = req.include_execution_data.unwrap_or(true);
        let reverse = req.reverse_order.unwrap_or(false);
        let n = rec.events.len() as u64;
        let start = match req.marker.as_deref().filter(|m| !m.is_empty()) {
            None if reverse => n,
            None => 1,
            Some(m) => match Marker::decode(m)? {
                Marker::History { next } if (1..=n).contains(&next) => next,
                _ => return Err(ApiError::invalid("Invalid marker")),
            },
        };
        let (ids, next): (Vec<u64>, Option<u64>) = if n == 0 {
            (Vec::new(), None)
        } else if reverse {
            let low = start.saturating_sub(max - 1).max(1);
            ((low..=start).rev().collect(), (low > 1).then(|| low - 1))
        } else {
            let high = (start + max - 1).min(n);
            ((start..=high).collect(), (high < n).then(|| high + 1))
        };
        let events = ids
            .into_iter()
            .filter_map(|id| rec.events.get(id as usize - 1))
            .map(|ev| {
                let mut ev = ev.clone();
                if !include {
                    events::strip_payloads(&mut ev);
                }
                ev
            })
            .collect();
        Ok(GetDurableExecutionHistoryResponse {
            events,
            next_marker: next.map(|next| Marker::History { next }.encode()),
        })
    }

    /// ListDurableExecutionsByFunction: the function may be a name, `name:qualifier`, a
    /// partial or a full ARN; an unknown function is ResourceNotFound.
    pub fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        self.list_executions(ListExecutions {
            function_name: Some(req.function_name),
            qualifier: req.qualifier,
            durable_execution_name: req.durable_execution_name,
            statuses: req.statuses,
            started_after: req.started_after,
            started_before: req.started_before,
            reverse_order: req.reverse_order,
            marker: req.marker,
            max_items: req.max_items,
        })
    }

    /// Lists executions of one function or of all (newest first unless `reverse_order`).
    pub fn list_executions(
        &self,
        req: ListExecutions,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        let max = ids::page_size(req.max_items)?;
        let reverse = req.reverse_order.unwrap_or(false);
        let mut qualifier = req.qualifier.filter(|q| !q.is_empty());
        let function = match &req.function_name {
            None => None,
            Some(f) => {
                let missing = || {
                    ApiError::not_found(format!("Function not found: {}", ids::truncate(f, 300)))
                };
                let fref = ids::parse_function_ref(f, &self.config.region, &self.config.account_id)
                    .ok_or_else(missing)?;
                if !self.config.functions.contains_key(&fref.name)
                    && !self.ix.by_function.contains_key(&fref.name)
                {
                    return Err(ApiError::not_found(format!(
                        "Function not found: {}",
                        ids::function_arn(
                            &self.config.region,
                            &self.config.account_id,
                            &fref.name,
                            None
                        )
                    )));
                }
                match (&qualifier, &fref.qualifier) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(ApiError::invalid(
                            "The Qualifier does not match the qualifier in FunctionName.",
                        ));
                    }
                    (None, Some(b)) => qualifier = Some(b.clone()),
                    _ => {}
                }
                Some(fref.name)
            }
        };
        let start = match req.marker.as_deref().filter(|m| !m.is_empty()) {
            None => None,
            Some(m) => match Marker::decode(m)? {
                Marker::List { next } => Some(next),
                _ => return Err(ApiError::invalid("Invalid marker")),
            },
        };
        let seqs: Box<dyn Iterator<Item = u64> + '_> = match &function {
            Some(name) => {
                let Some(set) = self.ix.by_function.get(name) else {
                    return Ok(ListDurableExecutionsByFunctionResponse::default());
                };
                match (reverse, start) {
                    (true, s) => Box::new(set.range(s.unwrap_or(0)..).copied()),
                    (false, s) => Box::new(set.range(..=s.unwrap_or(u64::MAX)).rev().copied()),
                }
            }
            None => match (reverse, start) {
                (true, s) => Box::new(self.ix.order.range(s.unwrap_or(0)..).map(|(k, _)| *k)),
                (false, s) => Box::new(
                    self.ix
                        .order
                        .range(..=s.unwrap_or(u64::MAX))
                        .rev()
                        .map(|(k, _)| *k),
                ),
            },
        };
        let mut out = Vec::new();
        let mut next_marker = None;
        for seq in seqs {
            let Some(rec) = self.ix.order.get(&seq).and_then(|arn| self.recs.get(arn)) else {
                continue;
            };
            let h = &rec.h;
            let keep = qualifier.as_ref().is_none_or(|q| *q == h.version)
                && req
                    .durable_execution_name
                    .as_ref()
                    .is_none_or(|n| *n == h.name)
                && (req.statuses.is_empty() || req.statuses.contains(&h.status))
                && req.started_after.is_none_or(|t| h.start >= t)
                && req.started_before.is_none_or(|t| h.start <= t);
            if !keep {
                continue;
            }
            if out.len() == max {
                next_marker = Some(Marker::List { next: seq }.encode());
                break;
            }
            out.push(Execution {
                durable_execution_arn: h.arn.clone(),
                durable_execution_name: h.name.clone(),
                function_arn: self.function_arn(rec),
                status: h.status,
                start_timestamp: h.start,
                end_timestamp: h.end,
                kms_key_arn: None,
            });
        }
        Ok(ListDurableExecutionsByFunctionResponse {
            durable_executions: out,
            next_marker,
        })
    }
}
