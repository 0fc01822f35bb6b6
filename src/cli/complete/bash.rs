//! The bash script: `_amux` reads `COMP_WORDS` as `complete -F` gives
//! it, skips the `-H` hosts to find the verb, counts the verb's operands,
//! and fills `COMPREPLY` with `compgen -W` from the verb's branch.

use super::super::verbs::{Ids, Operands, Verb, VERBS};
use std::fmt::Write;

const HEAD: &str = r#"_amux() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i=1 verb= _amux_hosts=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case ${COMP_WORDS[i]} in
            -H|--host)
                if [ "${COMP_WORDS[i+1]}" = "=" ]; then i=$((i+1)); fi
                _amux_hosts+=(-H "${COMP_WORDS[i+1]}"); i=$((i+2)) ;;
            -H?*) _amux_hosts+=("${COMP_WORDS[i]}"); i=$((i+1)) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [ -z "$verb" ]; then
        case $prev in
            -H|--host|=) COMPREPLY=($(compgen -A hostname -- "$cur")); return ;;
        esac
"#;

pub fn script() -> String {
    let mut s = String::from("# bash completion for amux\n_amux_ids() {\n    case $1 in\n");
    for ids in Ids::EVERY {
        let list = super::listing(ids, r#""${_amux_hosts[@]}""#);
        let _ = writeln!(s, "        {}) {list} ;;", ids.name());
    }
    s.push_str("    esac\n}\n");
    s.push_str(HEAD);
    let top = super::top().join(" ");
    let _ = writeln!(s, "        COMPREPLY=($(compgen -W \"{top}\" -- \"$cur\"))");
    s.push_str("        return\n    fi\n");
    s.push_str("    # Words after the verb that are not options nor an option's value.\n");
    s.push_str("    local j args=0\n    for ((j = i + 1; j < COMP_CWORD; j++)); do\n");
    s.push_str("        case ${COMP_WORDS[j]} in\n");
    let _ = writeln!(s, "            {}) j=$((j+1)) ;;", super::valued("|"));
    s.push_str("            -*) ;;\n            *) args=$((args+1)) ;;\n        esac\n    done\n");
    s.push_str("    local opts= ids=\n    case $verb in\n");
    VERBS.iter().for_each(|verb| branch(&mut s, verb));
    s.push_str("    esac\n");
    s.push_str(
        "    COMPREPLY=($(compgen -W \"$opts ${ids:+$(_amux_ids \"$ids\")}\" -- \"$cur\"))\n",
    );
    s.push_str("}\ncomplete -F _amux amux\n");
    s
}

/// The verb's `case` branch: its option values, its options, its operands.
fn branch(s: &mut String, verb: &Verb) {
    let opts = super::words(verb.visible()).join(" ");
    let head = s.len();
    let _ = writeln!(s, "        {})", verb.name);
    if verb.operands == Operands::Command {
        // The command typed: its arguments are files, ours are over.
        s.push_str("            if [ \"$args\" -gt 0 ]; then compopt -o default; COMPREPLY=(); return; fi\n");
    }
    if super::with_values(verb).next().is_some() {
        s.push_str("            case $prev in\n");
        for opt in super::with_values(verb) {
            let choices = opt.choices.join(" ");
            let offer = match choices.is_empty() {
                true => String::new(),
                false => format!("COMPREPLY=($(compgen -W \"{choices}\" -- \"$cur\")); "),
            };
            let _ = writeln!(s, "                --{}) {offer}return ;;", opt.long);
        }
        s.push_str("            esac\n");
    }
    let operands = match verb.operands {
        Operands::Nothing => String::new(),
        Operands::Id(ids) => format!("; [ \"$args\" -eq 0 ] && ids={}", ids.name()),
        Operands::Ids(ids) => format!("; ids={}", ids.name()),
        Operands::IdThen(ids, words) => format!(
            "; [ \"$args\" -eq 0 ] && ids={}; [ \"$args\" -eq 1 ] && opts=\"$opts {}\"",
            ids.name(),
            words.join(" ")
        ),
        Operands::Word(words) => first(&words.join(" ")),
        Operands::Verb => first(&super::verb_names()),
        Operands::Command => {
            let _ = writeln!(s, "            if [[ $cur == -* ]]; then opts=\"{opts}\"");
            s.push_str("            else COMPREPLY=($(compgen -c -- \"$cur\")); return; fi ;;\n");
            return;
        }
    };
    let _ = writeln!(s, "            opts=\"{opts}\"{operands} ;;");
    // A branch of one line reads better as one.
    if s[head..].lines().count() == 2 {
        let one = s[head..].replacen(")\n            ", ") ", 1);
        s.replace_range(head.., &one);
    }
}

/// Offers `words` while no operand is typed.
fn first(words: &str) -> String {
    format!("; [ \"$args\" -eq 0 ] && opts=\"$opts {words}\"")
}
