namespace MiniSpire.Entries;

/// <summary>A selector: <c>unix:uid:1000</c> is type <c>unix</c>, value <c>uid:1000</c>.</summary>
internal readonly record struct Selector(string Type, string Value)
{
    public override string ToString() => Type + ":" + Value;
}
