//! The zsh script: `_amux` reads `words` and `CURRENT` as the completion
//! system sets them, skips the `-H` hosts to find the verb, counts the
//! verb's operands, and hands the verb's branch's words to `compadd`.

use super::super::verbs::{Ids, Operands, Verb, VERBS};
use std::fmt::Write;

const HEAD: &str = r#"    local i=2
    while (( i < CURRENT )); do
        case $words[i] in
            -H|--host) hosts+=(-H $words[i+1]); (( i += 2 )) ;;
            -H?*|--host=*) hosts+=($words[i]); (( i += 1 )) ;;
            *) break ;;
        esac
    done
    if (( i == CURRENT )); then
        case $words[i-1] in
            -H|--host) _hosts ;;
"#;

pub fn script() -> String {
    let mut s = String::from("#compdef amux\n_amux_ids() {\n    case $1 in\n");
    for ids in Ids::EVERY {
        let _ = writeln!(
            s,
            "        {}) {} ;;",
            ids.name(),
            super::listing(ids, "$hosts")
        );
    }
    s.push_str("    esac\n}\n_amux() {\n    local -a verbs hosts\n");
    let _ = writeln!(s, "    verbs=({})", super::verb_names());
    s.push_str(HEAD);
    let global = super::words(super::verbs::GLOBAL).join(" ");
    let _ = writeln!(s, "            *) compadd -- $verbs {global} ;;");
    s.push_str("        esac\n        return\n    fi\n");
    s.push_str("    local verb=$words[i] prev=$words[CURRENT-1]\n");
    s.push_str("    # Words after the verb that are not options nor an option's value.\n");
    s.push_str("    local j args=0\n    for (( j = i + 1; j < CURRENT; j++ )); do\n");
    s.push_str("        case $words[j] in\n");
    let _ = writeln!(s, "            {}) (( j++ )) ;;", super::valued("|"));
    s.push_str("            -*) ;;\n            *) (( args++ )) ;;\n        esac\n    done\n");
    s.push_str("    local -a opts ids\n    case $verb in\n");
    VERBS.iter().for_each(|verb| branch(&mut s, verb));
    s.push_str(
        "    esac\n    (( ${#opts} + ${#ids} )) && compadd -- $opts $ids\n}\n_amux \"$@\"\n",
    );
    s
}

/// The verb's `case` branch: its option values, its options, its operands.
fn branch(s: &mut String, verb: &Verb) {
    let opts = super::words(verb.visible()).join(" ");
    let head = s.len();
    let _ = writeln!(s, "        {})", verb.name);
    if verb.operands == Operands::Command {
        // The command typed: its arguments are files, ours are over.
        s.push_str("            if (( args > 0 )); then _files; return; fi\n");
    }
    if super::with_values(verb).next().is_some() {
        s.push_str("            case $prev in\n");
        for opt in super::with_values(verb) {
            let offer = match opt.choices {
                [] => String::new(),
                choices => format!("compadd -- {}; ", choices.join(" ")),
            };
            let _ = writeln!(s, "                --{}) {offer}return ;;", opt.long);
        }
        s.push_str("            esac\n");
    }
    let ids = |ids: Ids| format!("ids=(${{(f)\"$(_amux_ids {})\"}})", ids.name());
    let operands = match verb.operands {
        Operands::Nothing => String::new(),
        Operands::Id(set) => format!("; (( args )) || {}", ids(set)),
        Operands::Ids(set) => format!("; {}", ids(set)),
        Operands::IdThen(set, words) => format!(
            "; (( args )) || {}; (( args == 1 )) && opts+=({})",
            ids(set),
            words.join(" ")
        ),
        Operands::Word(words) => format!("; (( args )) || opts+=({})", words.join(" ")),
        Operands::Verb => "; (( args )) || opts+=($verbs)".into(),
        Operands::Command => {
            let _ = writeln!(
                s,
                "            if [[ $words[CURRENT] == -* ]]; then opts=({opts})"
            );
            s.push_str("            else _command_names; return; fi ;;\n");
            return;
        }
    };
    let _ = writeln!(s, "            opts=({opts}){operands} ;;");
    // A branch of one line reads better as one.
    if s[head..].lines().count() == 2 {
        let one = s[head..].replacen(")\n            ", ") ", 1);
        s.replace_range(head.., &one);
    }
}
