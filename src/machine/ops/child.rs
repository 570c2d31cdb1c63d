//! `ctx.child`: a child machine run in its own CONTEXT.

use super::step::Serdes;
use super::{decode_json, failure_of, op_name};
use crate::executor::{ChildEnd, ChildOutput, context_result, drive_child};
use crate::machine::ctx::Ctx;
use crate::machine::error::StepError;
use crate::machine::{BoxFuture, Transition};
use crate::model::*;
use serde::de::DeserializeOwned;

/// Where a child machine lives.
pub(crate) struct ChildSpec<'s> {
    pub id: String,
    pub parent: Option<String>,
    pub sub_type: &'s str,
    pub name: &'s str,
}

impl ChildSpec<'_> {
    /// An update of the child's CONTEXT.
    pub(crate) fn update(&self, action: OperationAction) -> OperationUpdate {
        let mut u = OperationUpdate::new(&self.id, OperationType::Context, action);
        u.parent_id = self.parent.clone();
        u.sub_type = Some(self.sub_type.to_string());
        u.name = op_name(self.name);
        u
    }
}

impl Ctx<'_> {
    /// Runs child machine `C` from `input` in its own CONTEXT operation (SubType
    /// `RunInChildContext`) and returns its output. The child's transitions are recorded as
    /// STEPs parented to that CONTEXT and run in this invocation until the child ends or
    /// waits; while it waits (a timer, a callback, a retry) this returns
    /// [`StepError::Suspended`] and the transition runs again, continuing the child where it
    /// stopped, when the service re-invokes. A child that failed returns
    /// [`StepError::Failed`].
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// enum Shipping { Book(String), Booked(String) }
    /// impl Transition for Shipping {
    ///     type Input = String;
    ///     type Output = String;
    ///     fn start(order: String) -> Self { Shipping::Book(order) }
    ///     async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///         Ok(match self {
    ///             Shipping::Book(order) => Next::to(Shipping::Booked(format!("parcel for {order}"))),
    ///             Shipping::Booked(parcel) => Next::done(parcel),
    ///         })
    ///     }
    /// }
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// enum Order { Ship(String) }
    /// # impl Transition for Order { type Input = String; type Output = String;
    /// #   fn start(o: String) -> Self { Order::Ship(o) }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let Order::Ship(order) = self;
    ///     let parcel = ctx.child::<Shipping>("shipping", order).await?;
    ///     Ok(Next::done(parcel))
    /// }
    /// # }
    /// ```
    pub async fn child<C>(&mut self, name: &str, input: C::Input) -> Result<C::Output, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        self.run_child::<C>(name, input, None).await
    }

    /// [`Ctx::child`] with a codec for the child's result (the CONTEXT's payload) instead of
    /// JSON. The child's output is returned as read back through `serdes`.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError, machine::ops::Serdes};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Shout { Say(String) }
    /// # impl Transition for Shout { type Input = String; type Output = String;
    /// #   fn start(s: String) -> Self { Shout::Say(s) }
    /// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    /// #       let Shout::Say(s) = self; Ok(Next::done(s)) } }
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Parent { Run }
    /// # impl Transition for Parent { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Parent::Run }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     // Store the child's text as it is, not as a JSON string.
    ///     let raw = Serdes::new(|s: &String| Ok(s.clone()), |s: &str| Ok(s.to_string()));
    ///     let text = ctx.child_with::<Shout>("shout", "hello".into(), raw).await?;
    ///     Ok(Next::done(text))
    /// }
    /// # }
    /// ```
    pub async fn child_with<C>(
        &mut self,
        name: &str,
        input: C::Input,
        serdes: Serdes<C::Output>,
    ) -> Result<C::Output, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        self.run_child::<C>(name, input, Some(&serdes)).await
    }

    async fn run_child<C>(
        &mut self,
        name: &str,
        input: C::Input,
        serdes: Option<&Serdes<C::Output>>,
    ) -> Result<C::Output, StepError>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        let spec = ChildSpec {
            id: self.next_op_id(),
            parent: self.parent.map(str::to_string),
            sub_type: "RunInChildContext",
            name,
        };
        if let Some(done) = self.child_recorded::<C>(&spec, serdes) {
            return done;
        }
        let what = format!("child `{name}`");
        match self.drive_child::<C>(&spec, input, serdes).await {
            ChildEnd::Done(ChildOutput::Value(v)) => match serdes {
                // Read back what was recorded, as every later run will.
                Some(serdes) => serdes
                    .encode(&v, &what)
                    .map_err(StepError::Failed)
                    .and_then(|text| serdes.decode(Some(&text), &what)),
                None => Ok(v),
            },
            ChildEnd::Done(ChildOutput::Json(json)) => match serdes {
                Some(serdes) => serdes.decode(Some(&json), &what),
                None => decode_json(&what, Some(&json)),
            },
            ChildEnd::Failed(e) => Err(StepError::Failed(e)),
            ChildEnd::Pending => Err(StepError::Suspended),
            ChildEnd::Api(e) => Err(StepError::Api(e)),
            ChildEnd::Invalid(m) => Err(StepError::Invocation(m)),
        }
    }

    /// The outcome of a child whose CONTEXT already ended; `None` when it has not (its START
    /// is queued when it does not exist yet).
    pub(crate) fn child_recorded<C>(
        &mut self,
        spec: &ChildSpec<'_>,
        serdes: Option<&Serdes<C::Output>>,
    ) -> Option<Result<C::Output, StepError>>
    where
        C: Transition,
        C::Output: DeserializeOwned,
    {
        match self.recorded(&spec.id, OperationType::Context) {
            Some(op) if op.status == OperationStatus::Succeeded => {
                let result = context_result(&*self.backend, op);
                let what = format!("child `{}`", spec.name);
                Some(match serdes {
                    Some(serdes) => serdes.decode(result.as_deref(), &what),
                    None => decode_json(&what, result.as_deref()),
                })
            }
            Some(op) => failure_of(op).map(|e| Err(StepError::Failed(e))),
            None => {
                self.backend
                    .defer(vec![spec.update(OperationAction::Start)]);
                None
            }
        }
    }

    /// Runs the child in `spec`'s CONTEXT in this invocation.
    pub(crate) fn drive_child<'c, C: Transition>(
        &'c mut self,
        spec: &'c ChildSpec<'c>,
        input: C::Input,
        serdes: Option<&'c Serdes<C::Output>>,
    ) -> BoxFuture<'c, ChildEnd<C::Output>> {
        // Boxed: a child may itself run children.
        Box::pin(async move {
            let close = |action| spec.update(action);
            let what = format!("the result of child `{}`", spec.name);
            let encode = serdes.map(|s| move |v: &C::Output| s.encode(v, &what));
            match &encode {
                Some(encode) => {
                    drive_child::<C>(&mut *self.backend, &spec.id, input, &close, Some(encode))
                        .await
                }
                None => drive_child::<C>(&mut *self.backend, &spec.id, input, &close, None).await,
            }
        })
    }
}
