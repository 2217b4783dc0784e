namespace MiniSpire.Entries;

/// <summary>A selector: <c>unix:uid:1000</c> is type <c>unix</c>, value <c>uid:1000</c>.</summary>
internal readonly record struct Selector(string Type, string Value)
{
    public override string ToString() => Type + ":" + Value;

    public static bool TryParse(string text, out Selector selector, out string error)
    {
        selector = default;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"selector \"{text}\" must be \"type:value\" with neither part empty";
            return false;
        }

        selector = new Selector(text[..colon], text[(colon + 1)..]);
        error = string.Empty;
        return true;
    }
}
