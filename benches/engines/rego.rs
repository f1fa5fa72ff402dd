//! The six rules in Rego (`rules.rego`), run by regorus in its fastest mode: compiled once into
//! a program for its register VM (RVM), with the VM reused across decisions and the input
//! document built per decision.

use std::sync::Arc;

use patrol::timestamp::format_rfc3339;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Rc, Value};

use super::Judge;

const ENTRY_POINT: &str = "data.patrol.violations";

pub struct Rego {
    vm: RegoVM,
}

fn strings(values: &[String]) -> Value {
    Value::from(
        values
            .iter()
            .map(|v| Value::from(v.as_str()))
            .collect::<Vec<_>>(),
    )
}

impl Rego {
    pub fn new() -> Self {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy(
                "rules.rego".to_string(),
                include_str!("rules.rego").to_string(),
            )
            .expect("rules.rego");
        let entry: Rc<str> = ENTRY_POINT.into();
        let compiled = engine.compile_with_entrypoint(&entry).expect("compile");
        let program: Arc<Program> =
            Compiler::compile_from_policy(&compiled, &[ENTRY_POINT]).expect("compile to RVM");
        let mut vm = RegoVM::new();
        vm.load_program(program);
        Rego { vm }
    }

    fn input(request: &patrol::Request) -> Value {
        let mut user = Value::new_object();
        let mut token = Value::new_object();
        let mut input = Value::new_object();
        {
            let user = user.as_object_mut().expect("object");
            user.insert(Value::from("id"), Value::from(request.user.id.as_str()));
            user.insert(Value::from("groups"), strings(&request.user.groups));
        }
        {
            let token_map = token.as_object_mut().expect("object");
            token_map.insert(Value::from("scopes"), strings(&request.token.scopes));
            token_map.insert(Value::from("all_orgs"), Value::from(request.token.all_orgs));
            token_map.insert(Value::from("orgs"), strings(&request.token.orgs));
            token_map.insert(
                Value::from("valid_to"),
                Value::from(format_rfc3339(request.token.valid_to)),
            );
        }
        {
            let input = input.as_object_mut().expect("object");
            input.insert(
                Value::from("operation"),
                Value::from(request.operation.as_str()),
            );
            input.insert(Value::from("now"), Value::from(format_rfc3339(request.now)));
            input.insert(Value::from("org"), Value::from(request.org.as_str()));
            input.insert(Value::from("user"), user);
            input.insert(Value::from("token"), token);
        }
        input
    }
}

impl Judge for Rego {
    fn judge(&mut self, request: &patrol::Request) -> Vec<String> {
        self.vm.set_input(Rego::input(request));
        let result = self.vm.execute().expect("evaluation");
        match result.as_set() {
            Ok(set) => set
                .iter()
                .filter_map(|v| v.as_string().ok().map(|s| s.to_string()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}
