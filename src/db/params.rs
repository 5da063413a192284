//! Binding positional (`?`, array) and named (`:name`, `@name`, `$name`, object) parameters.

use rusqlite::Statement;

use crate::{Error, Params, Result};

pub(super) fn bind(stmt: &mut Statement<'_>, params: &Params) -> Result<()> {
    let expected = stmt.parameter_count();
    match params {
        Params::None if expected == 0 => Ok(()),
        Params::None => Err(Error::BadParams(format!(
            "the statement has {expected} parameter(s) but none were given"
        ))),
        Params::Positional(values) => {
            check_count(stmt, values.len())?;
            for (i, value) in values.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, value)?;
            }
            Ok(())
        }
        Params::Named(values) => {
            for i in 1..=expected {
                let Some(name) = stmt.parameter_name(i) else {
                    return Err(Error::BadParams(
                        "the statement uses positional parameters (?); pass an array".into(),
                    ));
                };
                let bare = &name[1..];
                let Some((_, value)) = values.iter().find(|(k, _)| k == bare) else {
                    return Err(Error::BadParams(format!("no value was given for {name}")));
                };
                stmt.raw_bind_parameter(i, value)?;
            }
            Ok(())
        }
    }
}

/// Refuses a positional list whose length is not the statement's parameter count.
pub(super) fn check_count(stmt: &Statement<'_>, given: usize) -> Result<()> {
    let expected = stmt.parameter_count();
    if given == expected {
        Ok(())
    } else {
        Err(Error::BadParams(format!(
            "the statement has {expected} parameter(s) but {given} were given"
        )))
    }
}
