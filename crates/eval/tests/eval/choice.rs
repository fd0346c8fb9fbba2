use modelgate_eval::{ChoiceScore, score_item};

fn choice(logprob: f64, bytes: usize) -> ChoiceScore {
    ChoiceScore {
        logprob,
        tokens: bytes.div_ceil(4),
        bytes,
        greedy: false,
        mean_after_shared: logprob / bytes.div_ceil(4).max(1) as f64,
    }
}

#[test]
fn acc_and_acc_norm_can_disagree() {
    // Raw: the short choice wins; per byte: the long one (-6/30 > -2/5).
    let scores = [choice(-2.0, 5), choice(-6.0, 30)];
    let item = score_item(1, &scores);
    assert_eq!(item.pred, Some(0));
    assert_eq!(item.pred_norm, Some(1));
    assert!(!item.acc);
    assert!(item.acc_norm);
}

#[test]
fn ties_go_to_the_lowest_index_and_nan_never_wins() {
    let item = score_item(0, &[choice(-1.0, 4), choice(-1.0, 4), choice(-3.0, 4)]);
    assert_eq!((item.pred, item.pred_norm), (Some(0), Some(0)));
    let item = score_item(1, &[choice(f64::NAN, 4), choice(-50.0, 4)]);
    assert_eq!((item.pred, item.pred_norm), (Some(1), Some(1)));
    assert!(item.acc && item.acc_norm);
}

#[test]
fn zero_bytes_empty_choices_and_bad_gold_do_not_panic() {
    let item = score_item(0, &[choice(-1.0, 0), choice(-0.5, 1)]);
    assert_eq!(item.pred_norm, Some(1), "zero bytes count as one");
    let item = score_item(0, &[]);
    assert_eq!((item.pred, item.pred_norm), (None, None));
    assert!(!item.acc && !item.acc_norm);
    let item = score_item(7, &[choice(-1.0, 3)]);
    assert!(!item.acc && !item.acc_norm);
}

#[test]
fn per_token_normalisation_is_llama_cpps_pick() {
    // Sum favours choice 0, per byte choice 1, per token (shared prefix
    // left out) choice 2.
    let mut scores = vec![choice(-4.0, 8), choice(-5.0, 40), choice(-6.0, 8)];
    scores[0].mean_after_shared = -2.0;
    scores[1].mean_after_shared = -1.5;
    scores[2].mean_after_shared = -1.0;
    let item = score_item(2, &scores);
    assert_eq!(
        (item.pred, item.pred_norm, item.pred_per_token),
        (Some(0), Some(1), Some(2))
    );
    assert!(item.acc_per_token && !item.acc && !item.acc_norm);
}
