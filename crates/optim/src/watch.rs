//! The `VarStore`s an optimizer was built from. A trainable variable that none of its
//! groups holds (typically one created after the optimizer) is an error at the next step
//! instead of a variable that is silently never trained.
use crate::error::{OptimError, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tch::nn::Variables;

struct WatchedStore {
    variables: Arc<Mutex<Variables>>,
    /// The number of trainable variables at the last full scan: another number means
    /// that variables were added, and the store is scanned again.
    scanned: Option<usize>,
    /// Indices in `trainable_variables` of those the optimizer does not hold. They were
    /// frozen at the last check; each step checks that they still are (a few at most).
    outside: Vec<usize>,
}

#[derive(Default)]
pub(crate) struct StoreWatch {
    stores: Vec<WatchedStore>,
}

impl StoreWatch {
    pub fn add(&mut self, stores: &[Arc<Mutex<Variables>>]) {
        for store in stores {
            if !self.stores.iter().any(|s| Arc::ptr_eq(&s.variables, store)) {
                self.stores.push(WatchedStore {
                    variables: store.clone(),
                    scanned: None,
                    outside: Vec::new(),
                });
            }
        }
    }

    /// Forgets what was scanned: the parameters' data pointers have changed.
    pub fn rescan(&mut self) {
        for store in &mut self.stores {
            store.scanned = None;
        }
    }

    /// Fails, naming the variable, if a store holds a variable that requires grad but is
    /// not in `managed` (data pointers of the optimizer's parameters, linked first).
    pub fn check(&mut self, managed: &HashMap<usize, (String, String)>) -> Result<()> {
        for store in &mut self.stores {
            let variables = store.variables.lock().unwrap_or_else(|e| e.into_inner());
            let trainable = &variables.trainable_variables;
            if store.scanned != Some(trainable.len()) {
                store.outside = trainable
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| {
                        v.tensor.numel() > 0
                            && !managed.contains_key(&(v.tensor.data_ptr() as usize))
                    })
                    .map(|(i, _)| i)
                    .collect();
                store.scanned = Some(trainable.len());
            }
            if let Some(&i) = store
                .outside
                .iter()
                .find(|&&i| trainable[i].tensor.requires_grad())
            {
                let ptr = trainable[i].tensor.data_ptr();
                let name = variables
                    .named_variables
                    .iter()
                    .find(|(_, t)| t.numel() > 0 && t.data_ptr() == ptr)
                    .map(|(name, _)| name.clone())
                    .unwrap_or_else(|| format!("(trainable variable #{i}, without a name)"));
                return Err(OptimError::UnmanagedVariable { name });
            }
        }
        Ok(())
    }
}
